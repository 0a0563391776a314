// JSON patch (RFC 6902) with JSON Pointers (RFC 6901), as kube-apiserver applies
// `application/json-patch+json`. Written here instead of wrapping fast-json-patch so that every
// failure is a PatchError naming the operation index, op and path, and so that the ops document is
// validated completely before anything is applied. Pure: no I/O; inputs are never mutated.
//
// Choices: array indices are strict RFC 6901 (no leading zeros, no negative indices — evanphx/json-patch
// in Kubernetes accepts negative ones); removing the document root is refused; at most 10000
// operations, the limit kube-apiserver enforces.

import { describeValue, PatchError } from "./errors.js";
import { cloneJson, hasOwn, isPlainObject, type JsonObject, jsonEqual, kindName, setOwn } from "./json.js";

export const MAX_JSON_PATCH_OPERATIONS = 10000;

type OpName = "add" | "remove" | "replace" | "move" | "copy" | "test";
const OPS: readonly OpName[] = ["add", "remove", "replace", "move", "copy", "test"];

interface Operation {
  index: number;
  op: OpName;
  path: string;
  tokens: string[];
  from?: { path: string; tokens: string[] };
  value?: unknown;
}

export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) {
    throw new PatchError({
      patchType: "json",
      path: "",
      detail: `patch must be a JSON array of operations, got ${kindName(ops)}`,
      code: 400,
    });
  }
  if (ops.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new PatchError({
      patchType: "json",
      path: "",
      detail: `patch has ${ops.length} operations, the maximum allowed is ${MAX_JSON_PATCH_OPERATIONS}`,
      code: 422,
    });
  }
  const parsed = ops.map((raw, i) => parseOperation(raw, i));
  let doc = target === undefined ? null : cloneJson(target, "json", "target");
  for (const op of parsed) doc = applyOperation(doc, op);
  return doc;
}

function opError(
  op: { index: number; op: string; path: string },
  detail: string,
  code: 400 | 422 = 422,
  value?: unknown,
): PatchError {
  return new PatchError({
    patchType: "json",
    path: op.path,
    op: op.op,
    operationIndex: op.index,
    detail,
    code,
    ...(value === undefined ? {} : { value }),
  });
}

function parseOperation(raw: unknown, index: number): Operation {
  if (!isPlainObject(raw)) {
    throw opError(
      { index, op: "?", path: "?" },
      `operation must be a JSON object, got ${kindName(raw)}`,
      400,
    );
  }
  const opName = raw.op;
  const path = raw.path;
  const shown = {
    index,
    op: typeof opName === "string" ? opName : "?",
    path: typeof path === "string" ? path : "?",
  };
  if (typeof opName !== "string") throw opError(shown, `"op" must be a string, got ${kindName(opName)}`, 400);
  if (!(OPS as readonly string[]).includes(opName)) {
    throw opError(shown, `unknown op ${JSON.stringify(opName)}; supported: ${OPS.join(", ")}`, 400);
  }
  if (typeof path !== "string") throw opError(shown, `"path" must be a string, got ${kindName(path)}`, 400);
  const op: Operation = { index, op: opName as OpName, path, tokens: parsePointer(path, shown, "path") };
  if (op.op === "add" || op.op === "replace" || op.op === "test") {
    if (!hasOwn(raw, "value") || raw.value === undefined) throw opError(shown, `"value" is required`, 400);
    op.value = cloneJson(raw.value, "json", `operation ${index} value`);
  }
  if (op.op === "move" || op.op === "copy") {
    const from = raw.from;
    if (typeof from !== "string") throw opError(shown, `"from" must be a string, got ${kindName(from)}`, 400);
    op.from = { path: from, tokens: parsePointer(from, shown, "from") };
  }
  return op;
}

/** RFC 6901: "" is the whole document, otherwise "/"-separated tokens with ~1 → "/" and ~0 → "~". */
function parsePointer(p: string, op: { index: number; op: string; path: string }, field: string): string[] {
  if (p === "") return [];
  if (!p.startsWith("/")) throw opError(op, `"${field}" must be a JSON pointer starting with "/"`, 400, p);
  return p
    .slice(1)
    .split("/")
    .map((t) => {
      if (/~(?![01])/.test(t))
        throw opError(op, `"${field}" has an invalid escape (only ~0 and ~1 are allowed)`, 400, p);
      return t.replace(/~1/g, "/").replace(/~0/g, "~");
    });
}

function pointerOf(tokens: readonly string[]): string {
  return tokens.map((t) => `/${t.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}

const INDEX = /^(0|[1-9][0-9]*)$/;

/** Array index for reading/removing/replacing: must name an existing element. */
function existingIndex(arr: unknown[], token: string, op: Operation, at: readonly string[]): number {
  if (!INDEX.test(token))
    throw opError(op, `invalid array index ${JSON.stringify(token)} at ${pointerOf(at)}`);
  const i = Number(token);
  if (i >= arr.length)
    throw opError(op, `array index ${i} out of range at ${pointerOf(at)} (length ${arr.length})`);
  return i;
}

/** Walks to the value at `tokens`; undefined when something on the way is missing. */
function resolve(doc: unknown, tokens: readonly string[], op: Operation): { found: boolean; value: unknown } {
  let cur = doc;
  for (let d = 0; d < tokens.length; d++) {
    const t = tokens[d]!;
    if (Array.isArray(cur)) {
      if (!INDEX.test(t) || Number(t) >= cur.length) {
        if (t === "-" || INDEX.test(t)) return { found: false, value: undefined };
        throw opError(op, `invalid array index ${JSON.stringify(t)} at ${pointerOf(tokens.slice(0, d))}`);
      }
      cur = cur[Number(t)];
    } else if (isPlainObject(cur) && hasOwn(cur, t)) {
      cur = cur[t];
    } else {
      return { found: false, value: undefined };
    }
  }
  return { found: true, value: cur };
}

function parentOf(doc: unknown, op: Operation, tokens: readonly string[]): unknown {
  const parent = resolve(doc, tokens.slice(0, -1), op);
  if (!parent.found) throw opError(op, "path not found");
  if (!Array.isArray(parent.value) && !isPlainObject(parent.value)) {
    throw opError(
      op,
      `path not found: ${pointerOf(tokens.slice(0, -1))} is a ${kindName(parent.value)}, not an object or array`,
    );
  }
  return parent.value;
}

function add(doc: unknown, op: Operation, tokens: readonly string[], value: unknown): unknown {
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, op, tokens);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    if (last === "-") {
      parent.push(value);
    } else {
      if (!INDEX.test(last)) throw opError(op, `invalid array index ${JSON.stringify(last)}`);
      const i = Number(last);
      if (i > parent.length) throw opError(op, `array index ${i} out of range (length ${parent.length})`);
      parent.splice(i, 0, value);
    }
  } else {
    setOwn(parent as JsonObject, last, value);
  }
  return doc;
}

/** Removes and returns the value at `tokens`. */
function remove(doc: unknown, op: Operation, tokens: readonly string[]): unknown {
  if (tokens.length === 0) throw opError(op, "cannot remove the document root");
  const parent = parentOf(doc, op, tokens);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    const i = existingIndex(parent, last, op, tokens.slice(0, -1));
    return parent.splice(i, 1)[0];
  }
  const obj = parent as JsonObject;
  if (!hasOwn(obj, last)) throw opError(op, "path not found");
  const v = obj[last];
  delete obj[last];
  return v;
}

function applyOperation(doc: unknown, op: Operation): unknown {
  switch (op.op) {
    case "add":
      return add(doc, op, op.tokens, op.value);
    case "remove":
      remove(doc, op, op.tokens);
      return doc;
    case "replace": {
      if (op.tokens.length === 0) return op.value;
      if (!resolve(doc, op.tokens, op).found) throw opError(op, "path not found");
      remove(doc, op, op.tokens);
      return add(doc, op, op.tokens, op.value);
    }
    case "move": {
      const from = op.from!;
      const src = resolve(doc, from.tokens, op);
      if (!src.found) throw opError(op, `"from" path not found: ${from.path}`);
      if (from.path === op.path) return doc;
      if (op.path.startsWith(`${from.path}/`) || from.tokens.length === 0) {
        throw opError(
          op,
          `cannot move ${from.path === "" ? "the document root" : from.path} into its own child`,
        );
      }
      const v = remove(doc, op, from.tokens);
      return add(doc, op, op.tokens, v);
    }
    case "copy": {
      const from = op.from!;
      const src = resolve(doc, from.tokens, op);
      if (!src.found) throw opError(op, `"from" path not found: ${from.path}`);
      return add(doc, op, op.tokens, cloneJson(src.value, "json", "document"));
    }
    case "test": {
      const cur = resolve(doc, op.tokens, op);
      if (!cur.found) throw opError(op, "path not found");
      if (!jsonEqual(cur.value, op.value)) {
        throw opError(
          op,
          `test failed: value is ${describeValue(cur.value)}, expected ${describeValue(op.value)}`,
        );
      }
      return doc;
    }
  }
}
