// Field selectors (`metadata.name=x,spec.nodeName!=y`), parsed as Kubernetes does: terms joined by
// commas, operators `=`, `==`, `!=`, backslash escapes for `\,` `\=` `\!` `\\`. Pure: no I/O.
import { ApiError } from "../api/errors.js";

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

const MAX_SELECTOR_LENGTH = 16 * 1024;

export function parseFieldSelector(s: string): FieldRequirement[] {
  if (s.length > MAX_SELECTOR_LENGTH) {
    throw ApiError.badRequest(
      `fieldSelector is ${s.length} bytes long; at most ${MAX_SELECTOR_LENGTH} are accepted`,
    );
  }
  const out: FieldRequirement[] = [];
  for (const term of splitUnescaped(s, ",")) {
    if (term.trim() === "") continue;
    const m = findOperator(term);
    if (!m)
      throw ApiError.badRequest(
        `invalid field selector term ${JSON.stringify(term)}: expected <field>=<value> or <field>!=<value>`,
      );
    const field = term.slice(0, m.index).trim();
    if (!/^[A-Za-z0-9_.-]+$/.test(field)) {
      throw ApiError.badRequest(
        `invalid field selector term ${JSON.stringify(term)}: bad field name ${JSON.stringify(field)}`,
      );
    }
    out.push({
      field,
      op: m.op === "!=" ? "!=" : "=",
      value: unescapeValue(term.slice(m.index + m.op.length)),
    });
  }
  return out;
}

function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === sep) {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function findOperator(term: string): { index: number; op: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    const c = term[i]!;
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "!" && term[i + 1] === "=") return { index: i, op: "!=" };
    if (c === "=") return { index: i, op: term[i + 1] === "=" ? "==" : "=" };
  }
  return undefined;
}

function unescapeValue(v: string): string {
  return v.replace(/\\(.)/g, "$1");
}
