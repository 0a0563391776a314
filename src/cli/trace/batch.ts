// `egress trace --batch FILE`: many queries against one listing, each node's programs compiled
// once; parsing, tracing and output of the batch.
import {
  type OutputFormat,
  type PodRef,
  parseFrom,
  parseTo,
  TraceArgError,
  TraceInputError,
  type TraceTarget,
} from "./args.js";
import { type ClusterObjects, TraceCache, type TraceOptions, type TraceReport, traceFlow } from "./flow.js";
import { formatReport, reportJson } from "./format.js";

// ------------------------------------------------------------------------------------------ batch

/** One query of a `--batch` file: `<ns>/<pod> <ip|ns/pod>[:port][/proto]` (as --from and --to). */
export interface BatchQuery {
  /** 1-based line in the file. */
  line: number;
  from: PodRef;
  to: TraceTarget;
  /** The two words as written (echoed in the output). */
  text: { from: string; to: string };
}

/**
 * Parses a batch file: one query per line, `<from> <to>` separated by blanks; empty lines and
 * `#` comments are skipped. A bad line fails the whole file (nothing is traced), naming
 * `--batch <file>:<line>` and the word's own error.
 */
export function parseBatch(text: string, file: string): BatchQuery[] {
  const out: BatchQuery[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = (lines[i] ?? "").replace(/#.*$/, "").trim();
    if (l === "") continue;
    const where = `${file}:${i + 1}`;
    const words = l.split(/\s+/);
    if (words.length !== 2)
      throw new TraceArgError(
        "--batch",
        where,
        `expected "<namespace>/<pod> <ip|namespace/pod>[:port][/proto]", got ${JSON.stringify(l)}`,
      );
    const [f, t] = words as [string, string];
    try {
      out.push({ line: i + 1, from: parseFrom(f), to: parseTo(t), text: { from: f, to: t } });
    } catch (e) {
      if (e instanceof TraceArgError) throw new TraceArgError("--batch", where, e.message);
      throw e;
    }
  }
  return out;
}

export interface BatchResult {
  query: BatchQuery;
  /** The trace, or why this query could not be traced (unknown pod, no address yet ...). */
  result: { report: TraceReport } | { error: string };
}

/** Traces every query against one listing, compiling each node's programs once. A query that cannot
 *  be composed (TraceInputError) gets its error; other errors propagate. */
export async function traceBatch(
  o: ClusterObjects,
  queries: BatchQuery[],
  opts: TraceOptions,
): Promise<BatchResult[]> {
  const shared = { ...opts, cache: opts.cache?.objects === o ? opts.cache : new TraceCache(o) };
  const out: BatchResult[] = [];
  for (const q of queries) {
    try {
      out.push({ query: q, result: { report: await traceFlow(o, q.from, q.to, shared) } });
    } catch (e) {
      if (!(e instanceof TraceInputError)) throw e;
      out.push({ query: q, result: { error: e.message } });
    }
  }
  return out;
}

/** JSON: one object per line (JSON Lines) in the file's order, each with `query: {line, from, to}`
 *  and either the single trace's fields or `error`. Text: each report under a `# line N: from -> to`
 *  header, blank lines between. */
export function formatBatch(results: BatchResult[], format: OutputFormat): string {
  if (format === "json")
    return results
      .map((r) => {
        const query = { line: r.query.line, ...r.query.text };
        const body = "report" in r.result ? reportJson(r.result.report) : { error: r.result.error };
        return `${JSON.stringify({ query, ...body })}\n`;
      })
      .join("");
  return results
    .map((r) => {
      const head = `# line ${r.query.line}: ${r.query.text.from} -> ${r.query.text.to}\n`;
      return (
        head + ("report" in r.result ? formatReport(r.result.report, "text") : `error: ${r.result.error}\n`)
      );
    })
    .join("\n");
}
