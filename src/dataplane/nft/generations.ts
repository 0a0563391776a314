// Generational table updates: turns a whole-table script of the compilers' layout (see incremental.ts)
// into two update transactions that no packet can see half of. `delete table` + redefinition commits
// atomically for the ruleset, but a packet being filtered during the commit keeps the rules of the
// base chain it entered while every set/map lookup sees the new generation's elements: it misses the
// elements the transaction deleted and falls through to `policy accept` (docs/policy.md, "Whole-table
// replacement is not packet-atomic"). So the table is never deleted:
//   - every set, map and regular chain gets the generation's suffix (`name.g<N>`; '.' is a valid nft
//     identifier character and no compiler emits it), with every reference rewritten (`@set`,
//     `jump`/`goto` targets, also inside map elements and anonymous vmaps);
//   - the first transaction (`prepare`) deletes the generations the base chains no longer use and
//     creates the new generation's objects, which nothing refers to yet; the objects of the
//     generation the kernel uses now stay (packets that entered its rules may still look them up), so
//     at most two generations exist after each transaction;
//   - the second (`activate`) flushes and refills the base chains (`type … hook …`; they keep their
//     names; created when absent, deleted or deleted and re-created when gone or declared
//     differently) with rules that refer to the new generation;
//   - named counters keep their names and values: declared (in `prepare`) only when absent, never
//     deleted.
// Two transactions because a set is not fully usable in the transaction that creates it: on Linux
// 6.18 an interval set (rbtree) publishes its lookup data in its commit callback, which (as far as
// we read it) runs after the generation flip, so a packet that reached the new rules in between
// missed every element (one packet per update leaked through a firewall whose denials are interval
// map elements; docs/policy.md, "New sets are not ready in their own transaction").
// Element deltas are translated to the current generation's names. The state of the kernel (which
// generation is live, which objects exist) is passed in and returned; after a restart it is read back
// from `nft -j list table` (stateFromJson: the live generation is the one the base chains refer to).
// Pure: no I/O except GenerationalTable at the end, which talks to the kernel only through an
// injected NftExecer. Never used by the tracer (it loads the untransformed scripts).
import type { NftExecer } from "./execer.js";

export type GenObjectKind = "set" | "map" | "chain";

export interface GenObject {
  kind: GenObjectKind;
  /** The name in the kernel (with its generation suffix, or without one for a legacy object). */
  name: string;
}

/** What the kernel holds of one table, as far as updates care. */
export interface GenerationState {
  family: string;
  table: string;
  /** The generation the base chains' rules use now (0: unsuffixed legacy objects or none). */
  generation: number;
  /** Base chains present: name → normalised declaration (see declarationKey). */
  baseChains: ReadonlyMap<string, string>;
  /** Sets, maps and regular chains present (every generation). */
  objects: readonly GenObject[];
  /** Named counters present. */
  counters: ReadonlySet<string>;
  /** "<kind> <script name>" → kernel name, for the live generation (element deltas). */
  names: ReadonlyMap<string, string>;
}

/** The script is not in the compilers' whole-table layout (or uses a name the scheme reserves). */
export class GenerationScriptError extends Error {
  override name = "GenerationScriptError";
  constructor(
    readonly line: number,
    readonly text: string,
    detail: string,
  ) {
    super(`whole-table script line ${line}: ${detail}: ${JSON.stringify(text)}`);
  }
}

const SUFFIX = /^(.+)\.g(\d+)$/;
/** Characters of an unquoted nft identifier (after its first). */
const IDENT = "[A-Za-z_.][A-Za-z0-9_/.\\-]*";

/** The kernel name of `name` in generation `g`. */
export function generationName(name: string, g: number): string {
  return `${name}.g${g}`;
}

/** A kernel name split into the script's name and its generation (0 for an unsuffixed name). */
export function splitGenerationName(kernelName: string): { name: string; generation: number } {
  const m = SUFFIX.exec(kernelName);
  return m ? { name: m[1]!, generation: Number(m[2]) } : { name: kernelName, generation: 0 };
}

// ------------------------------------------------------------------------------------ parsing

interface Block {
  kind: string;
  name: string;
  /** Lines inside the block, verbatim (without the opening and closing lines). */
  lines: string[];
  /** Base chains only: the declaration line(s) (`type … hook … priority …; policy …;`). */
  declaration?: string;
  line: number;
}

interface ParsedTable {
  family: string;
  table: string;
  blocks: Block[];
}

const HEADER = /^table (\S+) (\S+) \{\}$/;
const OPEN = /^\t(\S+) (\S+) \{$/;

/** Parses the compilers' layout: create-if-absent, delete, then one `\t<kind> <name> {` … `\t}` block
 *  per object. Throws GenerationScriptError naming the line otherwise. */
export function parseTableScript(script: string): ParsedTable {
  const lines = script.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const m = HEADER.exec(lines[0] ?? "");
  if (!m) throw new GenerationScriptError(1, lines[0] ?? "", "expected `table <family> <name> {}`");
  const [, family, table] = m as unknown as [string, string, string];
  const T = `${family} ${table}`;
  if (lines[1] !== `delete table ${T}`)
    throw new GenerationScriptError(2, lines[1] ?? "", `expected \`delete table ${T}\``);
  if (lines[2] !== `table ${T} {`)
    throw new GenerationScriptError(3, lines[2] ?? "", `expected \`table ${T} {\``);
  if (lines.at(-1) !== "}")
    throw new GenerationScriptError(lines.length, lines.at(-1) ?? "", "expected the closing `}`");
  const blocks: Block[] = [];
  const seen = new Set<string>();
  const end = lines.length - 1;
  for (let i = 3; i < end; i++) {
    const open = OPEN.exec(lines[i]!);
    if (!open) throw new GenerationScriptError(i + 1, lines[i]!, "expected `\\t<kind> <name> {`");
    const [, kind, name] = open as unknown as [string, string, string];
    if (!["set", "map", "chain", "counter"].includes(kind))
      throw new GenerationScriptError(i + 1, lines[i]!, `unsupported object kind ${kind}`);
    if (!new RegExp(`^${IDENT}$`).test(name) || SUFFIX.test(name))
      throw new GenerationScriptError(i + 1, lines[i]!, "name is not a plain nft identifier");
    if (seen.has(`${kind} ${name}`)) throw new GenerationScriptError(i + 1, lines[i]!, "defined twice");
    seen.add(`${kind} ${name}`);
    const block: Block = { kind, name, lines: [], line: i + 1 };
    for (i++; i < end && lines[i] !== "\t}"; i++) {
      const l = lines[i]!;
      if (kind === "chain" && /^\s*type \S+ hook /.test(l)) block.declaration = l.trim();
      else block.lines.push(l);
    }
    if (i >= end) throw new GenerationScriptError(block.line, lines[block.line - 1]!, "block not closed");
    blocks.push(block);
  }
  return { family, table, blocks };
}

// ------------------------------------------------------------------------------------ declarations

/** nft's named priorities per family (nft(8), "PRIORITY"). */
const PRIORITIES: Record<string, Record<string, number>> = {
  default: { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 },
  bridge: { dstnat: -300, filter: -200, out: 100, srcnat: 300 },
};

/** A priority expression (`filter`, `mangle + 5`, `-100`) as a number; undefined when unknown. */
export function priorityValue(family: string, expr: string): number | undefined {
  const m = /^(-?\d+|[a-z]+)(?:\s*([+-])\s*(\d+))?$/.exec(expr.trim());
  if (!m) return undefined;
  const names = family === "bridge" ? PRIORITIES.bridge! : PRIORITIES.default!;
  const base = /^-?\d+$/.test(m[1]!) ? Number(m[1]) : names[m[1]!];
  if (base === undefined) return undefined;
  const off = m[3] === undefined ? 0 : Number(m[3]) * (m[2] === "-" ? -1 : 1);
  return base + off;
}

/** A base chain declaration in a form that compares equal to the kernel's (JSON type/hook/prio/
 *  policy): `filter forward 0 accept`. An unparsable one is kept verbatim (never equal: the chain is
 *  then re-created, which is always right). */
export function declarationKey(family: string, declaration: string): string {
  const m = /^type (\S+) hook (\S+) priority ([^;]+);(?:\s*policy (\S+?);?)?\s*$/.exec(declaration.trim());
  const prio = m ? priorityValue(family, m[3]!) : undefined;
  if (!m || prio === undefined) return `raw:${declaration.trim()}`;
  return `${m[1]} ${m[2]} ${prio} ${m[4] ?? "accept"}`;
}

// ------------------------------------------------------------------------------------ references

/** How references are renamed: sets/maps (`@name`) and chains (`jump`/`goto` targets) apart, as nft
 *  keeps them in separate namespaces. Undefined: left alone (nft then refuses a dangling reference). */
export interface Renamer {
  set(name: string): string | undefined;
  chain(name: string): string | undefined;
}

/**
 * `text` with every reference to a set/map (`@name`) and every `jump`/`goto` target (also inside map
 * elements and anonymous vmaps) renamed. Quoted strings (interface names) are never touched.
 */
export function rewriteReferences(text: string, rename: Renamer): string {
  const ref = new RegExp(`@(${IDENT})|(?<![A-Za-z0-9_/.\\-])(jump|goto)(\\s+)(${IDENT})`, "g");
  return text
    .split(/("[^"]*")/)
    .map((p, i) =>
      i % 2 === 1
        ? p
        : p.replace(ref, (_all, set: string | undefined, verb: string, sp: string, chain: string) =>
            set !== undefined ? `@${rename.set(set) ?? set}` : `${verb}${sp}${rename.chain(chain) ?? chain}`,
          ),
    )
    .join("");
}

// ------------------------------------------------------------------------------------ rendering

export interface RenderedUpdate {
  /** Transaction 1: deletes every generation but the live one, creates the new generation's sets,
   *  maps and regular chains (nothing refers to them yet) and counters that are absent. */
  prepare: string;
  /** Transaction 2, after `prepare` committed: the base chains refilled to use the new generation. */
  activate: string;
  /** The kernel's state once `prepare` alone committed (the live generation unchanged). */
  prepared: GenerationState;
  /** The kernel's state once both transactions committed. */
  next: GenerationState;
}

/** The state of a table that does not exist. */
export function emptyState(family: string, table: string): GenerationState {
  return {
    family,
    table,
    generation: 0,
    baseChains: new Map(),
    objects: [],
    counters: new Set(),
    names: new Map(),
  };
}

/**
 * The two update transactions that take the table from `current` (what the kernel holds; emptyState
 * when the table is absent) to what `script` (a whole-table script) defines, as a new generation
 * (one above every generation present, also one a failed `activate` left unused).
 */
export function renderUpdate(script: string, current: GenerationState): RenderedUpdate {
  const p = parseTableScript(script);
  if (p.family !== current.family || p.table !== current.table)
    throw new GenerationScriptError(
      1,
      `table ${p.family} ${p.table}`,
      `script is for another table than ${current.family} ${current.table}`,
    );
  const T = `${p.family} ${p.table}`;
  const g =
    Math.max(current.generation, ...current.objects.map((o) => splitGenerationName(o.name).generation)) + 1;
  const names = new Map<string, string>();
  const chainNames = new Map<string, string>();
  const setNames = new Map<string, string>();
  const base = new Map<string, string>();
  for (const b of p.blocks) {
    if (b.kind === "chain" && b.declaration !== undefined) {
      base.set(b.name, declarationKey(p.family, b.declaration));
      continue;
    }
    if (b.kind === "counter") continue;
    const k = generationName(b.name, g);
    names.set(`${b.kind} ${b.name}`, k);
    (b.kind === "chain" ? chainNames : setNames).set(b.name, k);
  }
  const renamer: Renamer = { set: (n) => setNames.get(n), chain: (n) => chainNames.get(n) };
  const rewrite = (line: string) => rewriteReferences(line, renamer);
  const blockLines = (b: Block, name: string) => [
    `\t${b.kind} ${name} {`,
    ...(b.declaration !== undefined ? [`\t\t${b.declaration}`] : []),
    ...b.lines.map(rewrite),
    "\t}",
  ];

  // prepare: every generation but the live one goes (the base chains do not refer to it): rules first
  // (they hold references to sets and chains), then sets and maps (a verdict map's elements hold
  // references to chains), then the chains. Then the new generation and the absent counters.
  const prepare: string[] = [`table ${T} {}`];
  const old = current.objects.filter((o) => splitGenerationName(o.name).generation !== current.generation);
  for (const o of old) if (o.kind === "chain") prepare.push(`flush chain ${T} ${o.name}`);
  for (const o of old) if (o.kind !== "chain") prepare.push(`delete ${o.kind} ${T} ${o.name}`);
  for (const o of old) if (o.kind === "chain") prepare.push(`delete chain ${T} ${o.name}`);
  prepare.push(`table ${T} {`);
  const counters = new Set(current.counters);
  for (const b of p.blocks) {
    if (b.kind === "counter") {
      // An existing counter keeps its value (re-declaring it would not reset it either).
      if (current.counters.has(b.name)) continue;
      counters.add(b.name);
      prepare.push(...blockLines(b, b.name));
    } else if (b.declaration === undefined) prepare.push(...blockLines(b, names.get(`${b.kind} ${b.name}`)!));
  }
  prepare.push("}");

  // activate: kept base chains are flushed (their rules come back below in the same transaction);
  // gone or re-declared ones are emptied and deleted (a re-declared one is created again below).
  const activate: string[] = [`table ${T} {}`];
  for (const [name, decl] of current.baseChains) {
    activate.push(`flush chain ${T} ${name}`);
    if (base.get(name) !== decl) activate.push(`delete chain ${T} ${name}`);
  }
  activate.push(`table ${T} {`);
  for (const b of p.blocks) if (b.declaration !== undefined) activate.push(...blockLines(b, b.name));
  activate.push("}");

  const live = current.objects.filter((o) => splitGenerationName(o.name).generation === current.generation);
  const objects: GenObject[] = [...live];
  for (const b of p.blocks)
    if ((b.kind === "set" || b.kind === "map" || b.kind === "chain") && b.declaration === undefined)
      objects.push({ kind: b.kind, name: names.get(`${b.kind} ${b.name}`)! });
  return {
    prepare: `${prepare.join("\n")}\n`,
    activate: `${activate.join("\n")}\n`,
    prepared: { ...current, objects, counters },
    next: { family: p.family, table: p.table, generation: g, baseChains: base, objects, counters, names },
  };
}

/**
 * An element delta (lines `add|delete element <family> <table> <name> { … }`, as incremental.ts and
 * the node incremental compiler write them) with set/map names and the chains named in its elements
 * translated to the live generation's names. Undefined when a line is anything else or names an
 * object the live generation does not have (the caller applies the whole table instead).
 */
export function translateDelta(delta: string, state: GenerationState): string | undefined {
  if (delta === "") return "";
  const T = `${state.family} ${state.table}`;
  const out: string[] = [];
  const set = (n: string) => state.names.get(`set ${n}`) ?? state.names.get(`map ${n}`);
  let unknown = false;
  const known = (r: string | undefined) => {
    if (r === undefined) unknown = true;
    return r;
  };
  const renamer: Renamer = {
    set: (n) => known(set(n)),
    chain: (n) => known(state.names.get(`chain ${n}`)),
  };
  for (const line of delta.split("\n")) {
    if (line === "") continue;
    const m = /^(add|delete) element (\S+ \S+) (\S+) \{(.*)\}$/.exec(line);
    if (!m || m[2] !== T) return undefined;
    const target = set(m[3]!);
    if (target === undefined) return undefined;
    const inner = rewriteReferences(m[4]!, renamer);
    if (unknown) return undefined;
    out.push(`${m[1]} element ${T} ${target} {${inner}}`);
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

// ------------------------------------------------------------------------------------ reading back

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;

/**
 * The generation state of a table from `nft -j list table` (terse or not); emptyState when `doc` is
 * undefined (the table does not exist). The live generation is the one the base chains refer to
 * (every update deletes all but that one before it creates its own).
 */
export function stateFromJson(doc: unknown, family: string, table: string): GenerationState {
  const items = isRecord(doc) && Array.isArray(doc.nftables) ? (doc.nftables as unknown[]) : [];
  const baseChains = new Map<string, string>();
  const objects: GenObject[] = [];
  const counters = new Set<string>();
  for (const item of items) {
    if (!isRecord(item)) continue;
    for (const kind of ["chain", "set", "map", "counter"] as const) {
      const o = item[kind];
      if (!isRecord(o) || typeof o.name !== "string") continue;
      if (kind === "counter") counters.add(o.name);
      else if (kind === "chain" && typeof o.hook === "string")
        baseChains.set(
          o.name,
          `${String(o.type)} ${o.hook} ${String(o.prio)} ${String(o.policy ?? "accept")}`,
        );
      else objects.push({ kind, name: o.name });
    }
  }
  const baseTexts = items.flatMap((item) =>
    isRecord(item) && isRecord(item.rule) && baseChains.has(String(item.rule.chain))
      ? stringsIn(item.rule)
      : [],
  );
  const generation = liveGeneration(
    baseTexts,
    objects.map((o) => o.name),
  );
  const names = new Map<string, string>();
  for (const o of objects) {
    const s = splitGenerationName(o.name);
    if (s.generation === generation) names.set(`${o.kind} ${s.name}`, o.name);
  }
  return { family, table, generation, baseChains, objects, counters, names };
}

/**
 * The live generation of a table: the newest one its base chains' rules (`baseTexts`, any text
 * holding them) refer to among `objectNames` (sets, maps, regular chains, counters; never the base
 * chains themselves; a legacy unsuffixed object counts as generation 0). A newer generation that no rule refers to
 * was left by an update whose `activate` has not committed yet, or never did. Base chains that refer
 * to no generated object (or none at all): the newest generation present (0 when none).
 */
export function liveGeneration(baseTexts: readonly string[], objectNames: readonly string[]): number {
  const known = new Set(objectNames);
  const referenced = baseTexts
    .flatMap((t) => [...t.matchAll(new RegExp(IDENT, "g"))].map((m) => m[0]))
    .filter((n) => known.has(n))
    .map((n) => splitGenerationName(n).generation);
  const all = referenced.length > 0 ? referenced : objectNames.map((n) => splitGenerationName(n).generation);
  return Math.max(0, ...all);
}

/** Every string inside a JSON value (nft's rule expressions, or FakeNft's rule text). */
function stringsIn(x: unknown, out: string[] = []): string[] {
  if (typeof x === "string") out.push(x);
  else if (Array.isArray(x)) for (const v of x) stringsIn(v, out);
  else if (isRecord(x)) for (const v of Object.values(x)) stringsIn(v, out);
  return out;
}

/**
 * An `nft list table` listing (or FakeNft.dump()) as the live generation alone (the one the base
 * chains refer to): objects of other generations left out, generation suffixes removed (also from references), blocks sorted by kind and
 * name. For readers that compare tables or look objects up by their script names.
 */
export function currentGenerationListing(text: string): string {
  const lines = text.split("\n");
  const blocks: { key: string; lines: string[]; generation: number }[] = [];
  const head: string[] = [];
  const tail: string[] = [];
  let cur: { key: string; lines: string[]; generation: number } | undefined;
  for (const l of lines) {
    const open = /^\t(\S+) (\S+) \{$/.exec(l);
    if (!cur && open) {
      const s = splitGenerationName(open[2]!);
      cur = { key: `${open[1]} ${s.name}`, lines: [l], generation: s.generation };
      continue;
    }
    if (cur) {
      cur.lines.push(l);
      if (l === "\t}") {
        blocks.push(cur);
        cur = undefined;
      }
      continue;
    }
    if (l.trim() === "") continue;
    (blocks.length === 0 ? head : tail).push(l);
  }
  const isBase = (b: (typeof blocks)[number]) => b.lines.some((l) => / hook /.test(l));
  const live = liveGeneration(
    blocks.filter(isBase).flatMap((b) => b.lines.slice(1)),
    blocks.filter((b) => !isBase(b)).map((b) => b.lines[0]!.trim().split(" ")[1]!),
  );
  const strip = (l: string) => l.replace(/(?<=[A-Za-z0-9_/-])\.g\d+(?![A-Za-z0-9_/.-])/g, "");
  const kept = blocks
    .filter((b) => b.generation === 0 || b.generation === live)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return [...head, ...kept.flatMap((b) => b.lines.map(strip)), ...tail].join("\n");
}

// ------------------------------------------------------------------------------------ the adapter

/**
 * One table updated generation by generation through an NftExecer. Knows the kernel's state after
 * its own updates; reads it back (`nft -j list table`) when it does not (first use, or after an
 * update the kernel refused, e.g. because the table was changed behind its back).
 */
export class GenerationalTable {
  private state: GenerationState | undefined;

  constructor(
    private readonly nft: NftExecer,
    readonly family: string,
    readonly table: string,
  ) {}

  /** The kernel state as last known (undefined: not read yet). */
  get known(): GenerationState | undefined {
    return this.state;
  }

  /** The kernel name of a set/map/chain of the live generation (undefined when unknown). */
  nameOf(kind: GenObjectKind, name: string): string | undefined {
    return this.state?.names.get(`${kind} ${name}`);
  }

  /** Makes the table what `script` (a whole-table script) defines, as a new generation. */
  async replace(script: string): Promise<void> {
    if (this.state === undefined) await this.read();
    try {
      await this.applyWhole(script);
    } catch {
      // The kernel may hold something else than we think (someone deleted the table, or applied a
      // whole-table script): read it back and try once more (a second refusal is the caller's).
      await this.read();
      await this.applyWhole(script);
    }
  }

  /** Applies an element delta written for the script's names; false (nothing applied) when it cannot
   *  be translated. Throws what the kernel throws (the caller then replaces the whole table). */
  async applyDelta(delta: string): Promise<boolean> {
    if (this.state === undefined) return false;
    const t = translateDelta(delta, this.state);
    if (t === undefined) return false;
    if (t !== "") await this.nft.apply(t);
    return true;
  }

  /** Deletes the table (and forgets its state). */
  async remove(): Promise<void> {
    const T = `${this.family} ${this.table}`;
    await this.nft.apply(`table ${T} {}\ndelete table ${T}\n`);
    this.state = emptyState(this.family, this.table);
  }

  /** Forgets the known state: the next update reads the kernel first. */
  forget(): void {
    this.state = undefined;
  }

  private async read(): Promise<void> {
    this.state = stateFromJson(await this.nft.listJson(this.family, this.table), this.family, this.table);
  }

  private async applyWhole(script: string): Promise<void> {
    const r = renderUpdate(script, this.state!);
    await this.nft.apply(r.prepare);
    this.state = r.prepared;
    await this.nft.apply(r.activate);
    this.state = r.next;
  }
}
