// Plain-JSON helpers shared by the patch engines: type tests, deep clone (which also validates that a
// value is JSON), deep equality, and own-property access that is safe for keys such as "__proto__".
// Pure: no I/O. Never mutates its arguments.

import { type PatchEngine, PatchError } from "./errors.js";

export type JsonObject = Record<string, unknown>;

/** Nesting deeper than this is refused rather than risking stack exhaustion (Kubernetes objects never
 *  come close; a hostile body could). */
export const MAX_DEPTH = 1000;

export function isPlainObject(v: unknown): v is JsonObject {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function hasOwn(o: JsonObject, k: string): boolean {
  return Object.hasOwn(o, k);
}

export function getOwn(o: JsonObject, k: string): unknown {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

/** Assignment that creates an own data property even for "__proto__" (plain `o[k] = v` would change
 *  the prototype instead). */
export function setOwn(o: JsonObject, k: string, v: unknown): void {
  if (k === "__proto__") {
    Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  } else {
    o[k] = v;
  }
}

/** The JSON kind of a value, used to decide whether two values can be merged. */
export type JsonKind = "object" | "array" | "string" | "number" | "boolean" | "null";

export function jsonKind(v: unknown): JsonKind | undefined {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  switch (typeof v) {
    case "string":
      return "string";
    case "number":
      return Number.isFinite(v) ? "number" : undefined;
    case "boolean":
      return "boolean";
    case "object":
      return isPlainObject(v) ? "object" : undefined;
    default:
      return undefined;
  }
}

export function kindName(v: unknown): string {
  return (
    jsonKind(v) ?? (v === undefined ? "undefined" : typeof v === "object" ? "non-JSON object" : typeof v)
  );
}

function childPath(path: string, key: string | number): string {
  return typeof key === "number" ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`;
}

/** Deep copy of a JSON value. Object members whose value is `undefined` are dropped (as
 *  JSON.stringify does); anything else that is not JSON (functions, bigint, NaN, class instances,
 *  cycles, absurd nesting) is a PatchError naming where it was found. */
export function cloneJson(v: unknown, engine: PatchEngine, what: string, path = "", depth = 0): unknown {
  if (depth > MAX_DEPTH) {
    throw new PatchError({
      patchType: engine,
      path,
      detail: `${what} is nested deeper than ${MAX_DEPTH} levels`,
      code: 400,
    });
  }
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") {
    if (Number.isFinite(v)) return v;
    throw new PatchError({
      patchType: engine,
      path,
      detail: `${what} contains a non-finite number`,
      code: 400,
      value: String(v),
    });
  }
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = cloneJson(v[i], engine, what, childPath(path, i), depth + 1);
    return out;
  }
  if (isPlainObject(v)) {
    const out: JsonObject = {};
    for (const k of Object.keys(v)) {
      const child = v[k];
      if (child === undefined) continue;
      setOwn(out, k, cloneJson(child, engine, what, childPath(path, k), depth + 1));
    }
    return out;
  }
  throw new PatchError({
    patchType: engine,
    path,
    detail: `${what} contains a value that is not JSON (${kindName(v)})`,
    code: 400,
  });
}

/** JSON equality: objects compare by members regardless of order, arrays by position. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) if (!hasOwn(b, k) || !jsonEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}

export { childPath as fieldPath };
