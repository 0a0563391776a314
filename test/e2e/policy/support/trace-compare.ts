// The trace-vs-packets comparison of trace-matrix.test.ts, pure: the cells of a round (source pod ×
// target), the `egress trace --batch` query for each, reading the trace's JSON Lines, comparing them
// with one observed reachability round (allowed/denied, and the source address the echo server saw
// against the trace's possible sources), and the table printed for every disagreement. Decides
// nothing about what should be allowed: it only says where the two disagree.
import type { DecidedBy } from "../../../../src/cli/trace/flow.js";
import { describeDecidedBy } from "../../../../src/cli/trace/format.js";
import { type MatrixPod, type Observation, podKey, type Target } from "./matrix.js";

/** One comparison: a source pod and a target (a pod port or an outside address port). */
export interface Cell {
  from: MatrixPod;
  target: Target;
  /** The `--to` argument of the trace query. */
  to: string;
  /** Compare the echo server's view of the source address (not for DNS: the answer is addresses). */
  checkSource: boolean;
}

const protoOf = (t: Target): "tcp" | "udp" => (t.protocol === "TCP" ? "tcp" : "udp");

/** The cell for a target: pods are traced by name, addresses as written; DNS queries are UDP 53 to
 *  the resolver. */
export function cellFor(from: MatrixPod, target: Target): Cell {
  if (target.pod)
    return {
      from,
      target,
      to: `${podKey(target.pod)}:${target.port}/${protoOf(target)}`,
      checkSource: true,
    };
  if (target.protocol === "DNS")
    return { from, target, to: `${target.resolver ?? target.host}:53/udp`, checkSource: false };
  return { from, target, to: `${target.host}:${target.port}/${protoOf(target)}`, checkSource: true };
}

/** What the trace said about one cell. */
export interface TraceAnswer {
  verdict: "allowed" | "denied";
  decidedBy: string;
  /** decidedBy's kind (networkpolicy, egressfirewall, egress-path, default ...). */
  decidedByKind: string;
  /** Every address the packet may leave with (several when an EgressIP has several holders). */
  sources: string[];
  /** The kinds of those sources (pod, egressIP, projectEgressIP, node). */
  sourceKinds: string[];
}

interface TraceLine {
  query?: { line?: number; from?: string; to?: string };
  verdict?: "allowed" | "denied";
  decidedBy?: DecidedBy;
  sources?: { kind: string; address?: string }[];
  error?: string;
}

export class TraceOutputError extends Error {
  override name = "TraceOutputError";
}

/** The batch file for `cells` (one `<from> <to>` per line, in cell order). */
export function batchFile(cells: Cell[]): string {
  return `${cells.map((c) => `${podKey(c.from)} ${c.to}`).join("\n")}\n`;
}

/** Parses `egress trace --batch -o json` output: one answer per cell, in cell order. A line with an
 *  error, a missing line or a query that is not the cell's is an error naming the line. */
export function parseTraceLines(stdout: string, cells: Cell[]): TraceAnswer[] {
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  if (lines.length !== cells.length)
    throw new TraceOutputError(`trace printed ${lines.length} lines for ${cells.length} queries`);
  return lines.map((l, i) => {
    let j: TraceLine;
    try {
      j = JSON.parse(l) as TraceLine;
    } catch {
      throw new TraceOutputError(`trace output line ${i + 1} is not JSON: ${l.slice(0, 120)}`);
    }
    const c = cells[i]!;
    if (j.query?.from !== podKey(c.from) || j.query?.to !== c.to)
      throw new TraceOutputError(
        `trace output line ${i + 1} answers ${JSON.stringify(j.query)}, expected ${podKey(c.from)} ${c.to}`,
      );
    if (j.error !== undefined || !j.verdict || !j.decidedBy)
      throw new TraceOutputError(`trace of ${podKey(c.from)} -> ${c.to}: ${j.error ?? "no verdict"}`);
    return {
      verdict: j.verdict,
      decidedBy: describeDecidedBy(j.decidedBy),
      decidedByKind: j.decidedBy.kind,
      sources: (j.sources ?? []).flatMap((s) => (s.kind !== "dropped" && s.address ? [s.address] : [])),
      sourceKinds: (j.sources ?? []).map((s) => s.kind),
    };
  });
}

export interface Disagreement {
  cell: Cell;
  trace: TraceAnswer;
  /** connected (with the source the server saw) or blocked (with the error). */
  real: { ok: boolean; src?: string; err?: string };
  /** verdict: allowed vs blocked differ; source: both connected but from another address. */
  what: "verdict" | "source";
}

/** Every cell where the trace and the observed round disagree. */
export function compare(cells: Cell[], answers: TraceAnswer[], seen: Observation): Disagreement[] {
  const out: Disagreement[] = [];
  cells.forEach((cell, i) => {
    const trace = answers[i]!;
    const d = seen.details.get(podKey(cell.from))?.get(cell.target.key);
    const real = d
      ? { ok: d.ok, ...(d.src ? { src: d.src } : {}), ...(d.err ? { err: d.err } : {}) }
      : { ok: false, err: "not probed" };
    if ((trace.verdict === "allowed") !== real.ok) out.push({ cell, trace, real, what: "verdict" });
    else if (real.ok && cell.checkSource && !trace.sources.includes(real.src ?? ""))
      out.push({ cell, trace, real, what: "source" });
  });
  return out;
}

/** A stable fingerprint of a round (trace answers and observations), to tell when both settled. */
export function fingerprint(cells: Cell[], answers: TraceAnswer[], seen: Observation): string {
  return cells
    .map((c, i) => {
      const a = answers[i]!;
      const d = seen.details.get(podKey(c.from))?.get(c.target.key);
      return `${a.verdict[0]}${a.sources.join(",")}|${d?.ok ? `X${c.checkSource ? (d.src ?? "") : ""}` : "."}`;
    })
    .join(";");
}

const targetName = (t: Target): string =>
  t.pod ? podKey(t.pod) : t.protocol === "DNS" ? `${t.resolver ?? t.host} (DNS ${t.host})` : t.host;
const portProto = (t: Target): string =>
  t.protocol === "DNS" ? "53/dns" : `${t.port}/${t.protocol.toLowerCase()}`;

/** The disagreement table: from, to, port/proto, trace verdict + decidedBy (+ source), real result. */
export function renderDisagreements(list: Disagreement[]): string {
  const rows = list.map((d) => [
    podKey(d.cell.from),
    targetName(d.cell.target),
    portProto(d.cell.target),
    `${d.trace.verdict} by ${d.trace.decidedBy}${d.trace.verdict === "allowed" ? ` (source ${d.trace.sources.join(" or ") || "-"})` : ""}`,
    d.real.ok ? `connected, source seen ${d.real.src ?? "?"}` : `blocked (${d.real.err ?? "?"})`,
  ]);
  const head = ["from", "to", "port/proto", "trace", "real"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((x, i) => x.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
