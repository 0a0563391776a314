// Splits a multi-line router variable (env value or ConfigMap text) into content lines.
// `#` starts a comment that runs to the end of the line; blank lines are skipped. Line numbers
// count every physical line so errors point at the line a user sees. Pure: no I/O.

export interface ContentLine {
  /** 1-based physical line number. */
  line: number;
  /** The line without its comment, trimmed. Never empty. */
  text: string;
  /** Whitespace-separated fields of `text`. */
  fields: string[];
}

export function contentLines(value: string): ContentLine[] {
  const out: ContentLine[] = [];
  value.split(/\r?\n/).forEach((raw, i) => {
    const hash = raw.indexOf("#");
    const text = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (text !== "") out.push({ line: i + 1, text, fields: text.split(/\s+/) });
  });
  return out;
}

/** A decimal port 1-65535 without sign or leading zeros ("080" is refused: the shell that upstream
 *  used reads it as octal), or undefined. */
export function parsePort(s: string): number | undefined {
  if (!/^[1-9]\d{0,4}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}
