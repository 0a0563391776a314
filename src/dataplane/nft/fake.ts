// FakeNft: the NftExecer interface in memory, for unit tests without root (as knftables' Fake).
// It understands the subset of the nft language the compilers and generations.ts emit — `table`/
// `add table`/`delete table`/`flush table`/`flush ruleset`, table bodies with `set`, `map`, `chain`
// and named `counter` blocks (added into an existing table: a counter keeps its value, a base chain
// may be re-declared identically), `add`/`flush`/`delete chain`, `flush`/`delete set|map`,
// `add`/`delete element` — applies a script all-or-nothing, and refuses what nft would: unbalanced
// braces or quotes, unknown statements, unknown families/hooks, sets without a type, references to
// undefined sets/maps (@name), chains (jump/goto) or counters (`counter name "x"`), deleting or
// flushing what does not exist, deleting what is still referenced (EBUSY), changing a chain's hook,
// adding a map element under an existing key with another value (EEXIST).
// It does not evaluate rule semantics (counters stay at the values the script declares).
// `dump()` prints the state sorted (objects by kind and name, set elements sorted; rule order kept).
import { NftError, type NftExecer } from "./execer.js";
import { generationName, liveGeneration, priorityValue, splitGenerationName } from "./generations.js";

type ObjKind = "chain" | "counter" | "map" | "set";

interface NftObject {
  kind: ObjKind;
  name: string;
  /** Header/rule statements in order (for sets/maps: type, flags, ...; elements kept apart). */
  statements: string[];
  elements: string[];
  /** Line in the script where the object was (last) declared, for error messages. */
  line: number;
}

interface NftTable {
  family: string;
  name: string;
  objects: Map<string, NftObject>;
}

const FAMILIES = new Set(["ip", "ip6", "inet", "arp", "bridge", "netdev"]);
const HOOKS = new Set(["prerouting", "input", "forward", "output", "postrouting", "ingress", "egress"]);
const CHAIN_TYPES = new Set(["filter", "nat", "route"]);
const RULE_STARTERS = new Set([
  "ip",
  "ip6",
  "meta",
  "ct",
  "tcp",
  "udp",
  "sctp",
  "th",
  "icmp",
  "numgen",
  "jhash",
  "dnat",
  "snat",
  "masquerade",
  "redirect",
  "accept",
  "drop",
  "return",
  "jump",
  "goto",
  "reject",
  "counter",
  "log",
  "iifname",
  "oifname",
  "iif",
  "oif",
  "mark",
  "ether",
  "fib",
  "limit",
  "notrack",
]);

interface Stmt {
  text: string;
  line: number;
}

/** Splits text into statements at newlines/semicolons outside braces and quotes; drops # comments. */
function statements(text: string, firstLine: number, cmd: string[]): Stmt[] {
  const out: Stmt[] = [];
  let cur = "";
  let depth = 0;
  let inQuote = false;
  let line = firstLine;
  let startLine = firstLine;
  let blank = true;
  const flush = () => {
    const t = cur.trim();
    if (t !== "") out.push({ text: t, line: startLine });
    cur = "";
    blank = true;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (blank && c !== " " && c !== "\t" && c !== "\n") {
      blank = false;
      startLine = line;
    }
    if (inQuote) {
      if (c === "\n") throw new NftError(cmd, `line ${line}: unterminated string`, line);
      if (c === '"') inQuote = false;
      cur += c;
      continue;
    }
    if (c === "#") {
      while (i + 1 < text.length && text[i + 1] !== "\n") i++;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      if (depth < 0) throw new NftError(cmd, `line ${line}: unexpected '}'`, line);
    }
    if (c === "\n") line++;
    if (depth === 0 && (c === "\n" || c === ";")) {
      flush();
      continue;
    }
    cur += c;
  }
  if (inQuote) throw new NftError(cmd, `line ${line}: unterminated string`, line);
  if (depth !== 0) throw new NftError(cmd, `line ${line}: unbalanced braces (missing '}')`, line);
  flush();
  return out;
}

/** "head { body }" → [head, body]; body undefined when the statement has no block. */
function splitBlock(s: string): [string, string | undefined] {
  const open = s.indexOf("{");
  if (open < 0) return [s.trim(), undefined];
  if (!s.trimEnd().endsWith("}")) return [s.trim(), undefined];
  return [s.slice(0, open).trim(), s.slice(open + 1, s.trimEnd().length - 1)];
}

function splitTopLevelCommas(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const c of s) {
    if (c === "{") depth++;
    if (c === "}") depth--;
    if (c === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  if (cur.trim() !== "") out.push(cur.trim());
  return out;
}

const norm = (s: string): string => s.replace(/\s+/g, " ").trim();

function cloneState(s: Map<string, NftTable>): Map<string, NftTable> {
  const out = new Map<string, NftTable>();
  for (const [k, t] of s) {
    const objects = new Map<string, NftObject>();
    for (const [ok, o] of t.objects)
      objects.set(ok, { ...o, statements: [...o.statements], elements: [...o.elements] });
    out.set(k, { family: t.family, name: t.name, objects });
  }
  return out;
}

export class FakeNft implements NftExecer {
  private tables = new Map<string, NftTable>();
  private lastScript = new Map<string, string>();
  /** resolve()'s live generation per table, computed once per applied script. */
  private liveGenerations = new WeakMap<NftTable, number>();
  /** Every script passed to apply(), successful or not, in order. */
  readonly applied: string[] = [];

  async apply(script: string): Promise<void> {
    this.applied.push(script);
    const next = this.run(script, ["nft", "-f", "-"]);
    this.tables = next.state;
    this.liveGenerations = new WeakMap();
    for (const t of next.touched) this.lastScript.set(t, script);
  }

  async check(script: string): Promise<void> {
    this.run(script, ["nft", "--check", "-f", "-"]);
  }

  async listJson(family: string, name: string): Promise<unknown | undefined> {
    const t = this.tables.get(`${family} ${name}`);
    if (!t) return undefined;
    const items: unknown[] = [{ table: { family, name } }];
    for (const o of this.sortedObjects(t)) {
      if (o.kind === "chain") {
        // Base chains carry nft's type/hook/prio/policy (generations.ts compares declarations).
        const decl = /^type (\S+) hook (\S+) priority (.+)$/.exec(
          o.statements.find((x) => x.startsWith("type ")) ?? "",
        );
        const policy = /^policy (\S+)$/.exec(o.statements.find((x) => x.startsWith("policy ")) ?? "")?.[1];
        items.push({
          chain: {
            family,
            table: name,
            name: o.name,
            ...(decl
              ? {
                  type: decl[1],
                  hook: decl[2],
                  prio: priorityValue(family, decl[3]!) ?? decl[3],
                  policy: policy ?? "accept",
                }
              : {}),
          },
        });
        for (const r of o.statements) items.push({ rule: { family, table: name, chain: o.name, text: r } });
      } else if (o.kind === "counter") {
        // nft's own shape for named counters, so counter readers work on both execers.
        const [, packets = "0", bytes = "0"] =
          /^packets (\d+) bytes (\d+)$/.exec(o.statements[0] ?? "") ?? [];
        items.push({
          counter: { family, table: name, name: o.name, packets: Number(packets), bytes: Number(bytes) },
        });
      } else {
        items.push({
          [o.kind]: { family, table: name, name: o.name, header: o.statements, elem: [...o.elements] },
        });
      }
    }
    return { nftables: items };
  }

  /** The last successfully applied script that touched the table. */
  lastApplied(family: string, name: string): string | undefined {
    return this.lastScript.get(`${family} ${name}`);
  }

  hasTable(family: string, name: string): boolean {
    return this.tables.has(`${family} ${name}`);
  }

  /** Elements of a set or map, sorted; undefined when absent. In a table written generation by
   *  generation (generations.ts) the name resolves to the live generation's `name.g<N>`. */
  elements(family: string, table: string, name: string): string[] | undefined {
    const t = this.tables.get(`${family} ${table}`);
    const o = t && (this.resolve(t, "set", name) ?? this.resolve(t, "map", name));
    return o ? [...o.elements].sort() : undefined;
  }

  /** Rules of a chain in order; undefined when absent. Generations resolve as in elements(). */
  rules(family: string, table: string, chain: string): string[] | undefined {
    const t = this.tables.get(`${family} ${table}`);
    return t && this.resolve(t, "chain", chain)?.statements.filter(isRule);
  }

  /** `name` in the live generation when the table holds generations, else (or for a name with a
   *  suffix) the object of that exact name; a base chain is never suffixed. The live generation is
   *  the one the base chains refer to, as the kernel read-back decides (generations.ts
   *  liveGeneration): a generation prepared but not yet activated is not live. */
  private resolve(t: NftTable, kind: ObjKind, name: string): NftObject | undefined {
    const exact = t.objects.get(`${kind} ${name}`);
    const isBase = (o: NftObject): boolean =>
      o.kind === "chain" && o.statements.some((x) => x.startsWith("type "));
    let live = this.liveGenerations.get(t);
    if (live === undefined) {
      const objects = [...t.objects.values()];
      live = liveGeneration(
        objects.filter(isBase).flatMap((o) => o.statements.filter(isRule)),
        objects.filter((o) => !isBase(o)).map((o) => o.name),
      );
      this.liveGenerations.set(t, live);
    }
    if (live === 0 || splitGenerationName(name).generation > 0) return exact;
    const current = t.objects.get(`${kind} ${generationName(name, live)}`);
    if (current) return current;
    return exact && isBase(exact) ? exact : undefined;
  }

  /** Whole state as sorted text (tables by family/name, objects by kind/name, elements sorted). */
  dump(): string {
    const out: string[] = [];
    for (const key of [...this.tables.keys()].sort()) {
      const t = this.tables.get(key)!;
      out.push(`table ${t.family} ${t.name} {`);
      for (const o of this.sortedObjects(t)) {
        out.push(`\t${o.kind} ${o.name} {`);
        for (const s of o.statements) out.push(`\t\t${s}`);
        if (o.elements.length > 0) out.push(`\t\telements = { ${[...o.elements].sort().join(", ")} }`);
        out.push("\t}");
      }
      out.push("}");
    }
    return out.length === 0 ? "" : `${out.join("\n")}\n`;
  }

  private sortedObjects(t: NftTable): NftObject[] {
    return [...t.objects.values()].sort((a, b) =>
      a.kind === b.kind ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.kind < b.kind ? -1 : 1,
    );
  }

  private run(script: string, cmd: string[]): { state: Map<string, NftTable>; touched: Set<string> } {
    const state = cloneState(this.tables);
    const touched = new Set<string>();
    const fail = (line: number, msg: string): never => {
      throw new NftError(cmd, `-:${line}:1: Error: ${msg}`, line);
    };
    for (const st of statements(script, 1, cmd)) {
      const [head, body] = splitBlock(st.text);
      const words = head.split(/\s+/);
      const verb =
        words[0] === "add" || words[0] === "delete" || words[0] === "flush" ? words.shift()! : "add";
      if (words[0] === "ruleset" && verb === "flush") {
        for (const k of state.keys()) touched.add(k);
        state.clear();
        continue;
      }
      if (words[0] === "element" || words[0] === "chain" || words[0] === "set" || words[0] === "map") {
        this.objectCommand(state, touched, verb, words, body, st.line, cmd, fail);
        continue;
      }
      if (words[0] !== "table" || words.length !== 3)
        fail(st.line, `syntax error, unexpected statement "${head}"`);
      const [, family, name] = words as [string, string, string];
      if (!FAMILIES.has(family)) fail(st.line, `unknown table family "${family}"`);
      if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) fail(st.line, `invalid table name "${name}"`);
      const key = `${family} ${name}`;
      touched.add(key);
      if (verb === "delete") {
        if (body !== undefined) fail(st.line, "delete table takes no block");
        if (!state.delete(key))
          fail(st.line, `Could not process rule: No such file or directory (table ${key})`);
        continue;
      }
      if (verb === "flush") {
        const t =
          state.get(key) ?? fail(st.line, `Could not process rule: No such file or directory (table ${key})`);
        for (const o of t.objects.values()) {
          o.elements = [];
          if (o.kind === "chain") o.statements = o.statements.filter((s) => !isRule(s));
        }
        continue;
      }
      let t = state.get(key);
      if (!t) {
        t = { family, name, objects: new Map() };
        state.set(key, t);
      }
      if (body !== undefined) this.defineBody(t, body, st.line, cmd, fail);
    }
    for (const key of touched) {
      const t = state.get(key);
      if (t) this.validateRefs(t, fail);
    }
    return { state, touched };
  }

  /**
   * `add|flush|delete chain`, `flush|delete set|map`, `add|delete element` on an existing table, as
   * nft does them: a missing object is ENOENT, deleting a set/map/chain something still references is
   * EBUSY (checked at that point of the transaction, as the kernel does), an element added with
   * another value under an existing key is EEXIST, deleting a missing element is ENOENT.
   */
  private objectCommand(
    state: Map<string, NftTable>,
    touched: Set<string>,
    verb: string,
    words: string[],
    body: string | undefined,
    line: number,
    cmd: string[],
    fail: (line: number, msg: string) => never,
  ): void {
    const what = words[0]!;
    if (words.length !== 4) fail(line, `syntax error: "${[verb, ...words].join(" ")}"`);
    const [, family, tname, name] = words as [string, string, string, string];
    const key = `${family} ${tname}`;
    const t =
      state.get(key) ?? fail(line, `Could not process rule: No such file or directory (table ${key})`);
    touched.add(key);
    if (what === "chain") {
      if (verb === "add") {
        this.defineBody(t, `chain ${name} {${body ?? ""}\n}`, line, cmd, fail);
        return;
      }
      if (body !== undefined) fail(line, `${verb} chain takes no block`);
      const o =
        t.objects.get(`chain ${name}`) ??
        fail(line, `Could not process rule: No such file or directory (chain ${name})`);
      if (verb === "flush") {
        o.statements = o.statements.filter((s) => !isRule(s));
        return;
      }
      const user = this.referrer(t, "chain", name);
      if (user) fail(line, `Could not process rule: Device or resource busy (chain ${name} used by ${user})`);
      t.objects.delete(`chain ${name}`);
      return;
    }
    const o =
      t.objects.get(`set ${name}`) ??
      t.objects.get(`map ${name}`) ??
      fail(line, `Could not process rule: No such file or directory (${what} ${name})`);
    if (what === "element") {
      if (verb !== "add" && verb !== "delete") fail(line, `syntax error: "${verb} element"`);
      const m = body === undefined ? undefined : /^\s*(.*?)\s*$/s.exec(body);
      if (!m) fail(line, "element list expected");
      const items = splitTopLevelCommas(m[1]!).map(norm);
      const keyOf = (e: string) => (o.kind === "map" ? e.split(" : ")[0]! : e);
      for (const e of items) {
        const at = o.elements.findIndex((x) => keyOf(x) === keyOf(e));
        if (verb === "delete") {
          if (at < 0) fail(line, `Could not process rule: No such file or directory (element ${e})`);
          o.elements.splice(at, 1);
          continue;
        }
        if (o.kind === "map" && !/ : /.test(e)) fail(line, `map ${name}: bad element "${e}"`);
        if (o.kind === "set" && / : /.test(e)) fail(line, `set ${name}: bad element "${e}"`);
        if (at >= 0) {
          if (o.elements[at] !== e) fail(line, `Could not process rule: File exists (element ${e})`);
          continue;
        }
        o.elements.push(e);
      }
      return;
    }
    if (body !== undefined) fail(line, `${verb} ${what} takes no block`);
    if (verb === "flush") {
      o.elements = [];
      return;
    }
    if (verb !== "delete") fail(line, `syntax error: "${verb} ${what}"`);
    const user = this.referrer(t, "set", o.name);
    if (user)
      fail(line, `Could not process rule: Device or resource busy (${o.kind} ${name} used by ${user})`);
    t.objects.delete(`${o.kind} ${o.name}`);
  }

  /** The first object whose rules or elements reference the set/map or chain `name`, if any. */
  private referrer(t: NftTable, kind: "set" | "chain", name: string): string | undefined {
    const esc = name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    const re =
      kind === "set"
        ? new RegExp(`@${esc}(?![A-Za-z0-9_/.-])`)
        : new RegExp(`(?<![A-Za-z0-9_/.-])(?:jump|goto)\\s+${esc}(?![A-Za-z0-9_/.-])`);
    for (const o of t.objects.values()) {
      const texts = o.kind === "chain" ? o.statements.filter(isRule) : o.elements;
      if (texts.some((x) => re.test(x))) return `${o.kind} ${o.name}`;
    }
    return undefined;
  }

  private defineBody(
    t: NftTable,
    body: string,
    line: number,
    cmd: string[],
    fail: (line: number, msg: string) => never,
  ): void {
    for (const st of statements(body, line, cmd)) {
      const [head, inner] = splitBlock(st.text);
      const words = head.split(/\s+/);
      if (words[0] === "comment" || words[0] === "flags") continue;
      if (
        words.length !== 2 ||
        !["set", "map", "chain", "counter"].includes(words[0]!) ||
        inner === undefined
      )
        fail(st.line, `syntax error in table body: "${head}"`);
      const kind = words[0] as ObjKind;
      const name = words[1]!;
      if (!/^[A-Za-z_][A-Za-z0-9_/.-]*$/.test(name)) fail(st.line, `invalid ${kind} name "${name}"`);
      const okey = `${kind} ${name}`;
      const existed = t.objects.get(okey);
      const obj = existed ?? { kind, name, statements: [], elements: [], line: st.line };
      obj.line = st.line;
      for (const s of statements(inner, st.line, cmd)) {
        const text = norm(s.text);
        if (kind === "chain") {
          const c = this.checkChainStatement(text, s.line, fail);
          if (c.startsWith("type ")) {
            // A chain's hook and priority cannot change, nor a regular chain become a base chain
            // (nft: Operation not supported); re-declaring the same base chain is fine.
            const had = obj.statements.find((x) => x.startsWith("type "));
            if (had === c) continue;
            if (existed)
              fail(s.line, `Could not process rule: Operation not supported (chain ${name}: ${c})`);
          } else if (c.startsWith("policy ")) {
            if (!obj.statements.some((x) => x.startsWith("type ")))
              fail(
                s.line,
                `Could not process rule: Operation not supported (policy of regular chain ${name})`,
              );
            obj.statements = obj.statements.filter((x) => !x.startsWith("policy "));
            // Declarations stay in front of the rules.
            const at = obj.statements.findIndex((x) => x.startsWith("type "));
            obj.statements.splice(at + 1, 0, c);
            continue;
          }
          obj.statements.push(c);
          continue;
        }
        if (kind === "counter") {
          if (!/^packets \d+ bytes \d+$/.test(text))
            fail(s.line, `syntax error in counter ${name}: "${text}"`);
          // Re-declaring an existing counter keeps its value (as the kernel does).
          if (!existed) obj.statements = [text];
          continue;
        }
        const m = /^elements\s*=\s*\{(.*)\}$/.exec(text);
        if (m) {
          obj.elements.push(...splitTopLevelCommas(m[1]!).map(norm));
          continue;
        }
        const w = text.split(" ")[0];
        if (!["type", "typeof", "flags", "timeout", "size", "policy", "comment", "auto-merge"].includes(w!))
          fail(s.line, `syntax error in ${kind} ${name}: "${text}"`);
        if (!obj.statements.includes(text)) obj.statements.push(text);
      }
      if (kind === "set" || kind === "map") {
        const type = obj.statements.find((s) => s.startsWith("type ") || s.startsWith("typeof "));
        if (!type) fail(st.line, `${kind} ${name} has no type`);
        if (kind === "map" && !type.includes(" : ")) fail(st.line, `map ${name} type needs "key : value"`);
        if (kind === "set" && type.includes(" : ")) fail(st.line, `set ${name} type cannot have a value`);
        for (const e of obj.elements)
          if ((kind === "map") !== / : /.test(e)) fail(st.line, `${kind} ${name}: bad element "${e}"`);
      }
      t.objects.set(okey, obj);
    }
  }

  private checkChainStatement(
    text: string,
    line: number,
    fail: (line: number, msg: string) => never,
  ): string {
    if (text.startsWith("type ")) {
      const m = /^type (\S+) hook (\S+) priority (.+)$/.exec(text);
      if (!m || !CHAIN_TYPES.has(m[1]!) || !HOOKS.has(m[2]!) || priorityValue("inet", m[3]!) === undefined)
        fail(line, `bad base chain spec "${text}"`);
      return text;
    }
    if (text.startsWith("policy ")) {
      if (!/^policy (accept|drop)$/.test(text)) fail(line, `bad policy "${text}"`);
      return text;
    }
    if (text.startsWith("comment ")) return text;
    const first = text.split(" ")[0]!;
    if (!RULE_STARTERS.has(first)) fail(line, `syntax error, unexpected "${first}"`);
    return text;
  }

  private validateRefs(t: NftTable, fail: (line: number, msg: string) => never): void {
    for (const o of t.objects.values()) {
      const texts = o.kind === "chain" ? o.statements : o.elements;
      for (const text of texts) {
        for (const m of text.matchAll(/@([A-Za-z_.][A-Za-z0-9_/.-]*)/g))
          if (!t.objects.has(`set ${m[1]}`) && !t.objects.has(`map ${m[1]}`))
            fail(
              o.line,
              `Could not process rule: No such file or directory (set @${m[1]} in ${o.kind} ${o.name})`,
            );
        for (const m of text.matchAll(/\bcounter name "?([A-Za-z_][A-Za-z0-9_/.-]*)"?/g))
          if (!t.objects.has(`counter ${m[1]}`))
            fail(
              o.line,
              `Could not process rule: No such file or directory (counter ${m[1]} in ${o.kind} ${o.name})`,
            );
        for (const m of text.matchAll(/\b(?:goto|jump) ([A-Za-z_][A-Za-z0-9_/.-]*)/g))
          if (!t.objects.has(`chain ${m[1]}`))
            fail(
              o.line,
              `Could not process rule: No such file or directory (chain ${m[1]} in ${o.kind} ${o.name})`,
            );
      }
    }
  }
}

function isRule(s: string): boolean {
  return !s.startsWith("type ") && !s.startsWith("policy ") && !s.startsWith("comment ");
}
