// Turns two whole-table scripts of the compilers' fixed layout into a small delta transaction when
// only set/map elements differ: `add element` / `delete element` lines instead of deleting and
// redefining the table. Applying 10,000 pods' worth of table for one new pod costs ~180 ms in the
// kernel; the delta costs what it changes. Pure: no I/O. The caller falls back to the whole script
// when this returns undefined (structure changed) or when the kernel refuses the delta (the table
// was changed behind our back): the delta is only valid against the exact state `previous` made.
//
// Layout it understands (src/dataplane/compile/node-program.ts and policy/ render it; anything else
// yields undefined, never a wrong delta):
//   table <family> <name> {}
//   delete table <family> <name>
//   table <family> <name> {
//   \t<kind> <name> {            one top-level block per object, closed by "\t}"
//   \t\telements = {            sets and maps: one element per line, "," between, closed by "\t\t}"
//   \t\t\t<element>[,]
//   \t\t}
//   \t}
//   }
// Named counters' values (`\t\tpackets N bytes M`) are ignored: the kernel keeps counting, which is
// what a delta should do.

interface Block {
  /** "set foo", "map bar", "chain baz", "counter qux" */
  head: string;
  /** Lines other than elements (declaration and rules), for the structural comparison. */
  body: string[];
  /** Element texts (without the trailing comma); undefined for blocks without elements. */
  elements?: string[];
}

interface Parsed {
  family: string;
  name: string;
  blocks: Map<string, Block>;
  order: string[];
}

const HEADER = /^table (\S+) (\S+) \{\}$/;

function parse(script: string): Parsed | undefined {
  const lines = script.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const m = HEADER.exec(lines[0] ?? "");
  if (!m) return undefined;
  const [, family, name] = m as unknown as [string, string, string];
  const T = `${family} ${name}`;
  if (lines[1] !== `delete table ${T}` || lines[2] !== `table ${T} {` || lines.at(-1) !== "}")
    return undefined;
  const blocks = new Map<string, Block>();
  const order: string[] = [];
  let i = 3;
  const end = lines.length - 1;
  while (i < end) {
    const open = lines[i]!;
    if (!open.startsWith("\t") || open.startsWith("\t\t") || !open.endsWith(" {")) return undefined;
    const head = open.slice(1, -2);
    if (blocks.has(head)) return undefined;
    const block: Block = { head, body: [] };
    i++;
    for (; i < end && lines[i] !== "\t}"; i++) {
      const line = lines[i]!;
      if (line === "\t\telements = {") {
        const elements: string[] = [];
        for (i++; i < end && lines[i] !== "\t\t}"; i++) {
          const e = lines[i]!;
          if (!e.startsWith("\t\t\t")) return undefined;
          elements.push(e.slice(3).replace(/,$/, ""));
        }
        if (i >= end) return undefined;
        block.elements = elements;
        continue;
      }
      // A counter's value is state, not structure.
      if (head.startsWith("counter ") && /^\t\tpackets \d+ bytes \d+$/.test(line)) continue;
      block.body.push(line);
    }
    if (i >= end) return undefined;
    i++; // "\t}"
    blocks.set(head, block);
    order.push(head);
  }
  return { family, name, blocks, order };
}

/** Map elements are "key : value"; sets have no value. Keys are compared for maps so that a changed
 *  value becomes delete + add. */
function keyOf(kind: string, element: string): string {
  if (kind !== "map") return element;
  const at = element.lastIndexOf(" : ");
  return at < 0 ? element : element.slice(0, at);
}

/**
 * The delta from `previous` to `next`, or undefined when anything but elements differs (or either
 * script is not in the layout above). An empty string means "nothing to do".
 */
export function elementDelta(previous: string, next: string): string | undefined {
  if (previous === next) return "";
  const a = parse(previous);
  const b = parse(next);
  if (!a || !b || a.family !== b.family || a.name !== b.name) return undefined;
  if (a.order.length !== b.order.length || a.order.some((h, i) => h !== b.order[i])) return undefined;
  const T = `${a.family} ${a.name}`;
  const deletes: string[] = [];
  const adds: string[] = [];
  for (const head of a.order) {
    const x = a.blocks.get(head)!;
    const y = b.blocks.get(head)!;
    if (x.body.length !== y.body.length || x.body.some((l, i) => l !== y.body[i])) return undefined;
    if (x.elements === undefined && y.elements === undefined) continue;
    const [kind, name] = head.split(" ") as [string, string];
    if (kind !== "set" && kind !== "map") return undefined;
    const before = new Map((x.elements ?? []).map((e) => [keyOf(kind, e), e]));
    const after = new Map((y.elements ?? []).map((e) => [keyOf(kind, e), e]));
    const gone: string[] = [];
    const added: string[] = [];
    for (const [k, e] of before) if (after.get(k) !== e) gone.push(kind === "map" ? k : e);
    for (const [k, e] of after) if (before.get(k) !== e) added.push(e);
    // Deletions go first so a changed map value (same key) is re-added, and an interval set never
    // holds an old and a new overlapping range at once.
    if (gone.length > 0) deletes.push(`delete element ${T} ${name} { ${gone.join(", ")} }`);
    if (added.length > 0) adds.push(`add element ${T} ${name} { ${added.join(", ")} }`);
  }
  const out = [...deletes, ...adds];
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}
