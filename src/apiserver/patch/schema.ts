// The slice of JSON Schema the strategic merge patch engine reads: where a field's sub-schema is
// (`properties`, `additionalProperties`, `items`, plus `allOf`/`anyOf`/`oneOf` branches as TypeBox
// emits them for intersections and nullable unions) and the Kubernetes patch metadata
// (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`). `$ref` is not resolved: callers pass
// dereferenced schemas. Pure: no I/O.

import { isPlainObject } from "./json.js";

export interface JSONSchemaObject {
  type?: string | string[];
  properties?: Record<string, JSONSchemaObject>;
  items?: JSONSchemaObject | JSONSchemaObject[];
  additionalProperties?: boolean | JSONSchemaObject;
  allOf?: JSONSchemaObject[];
  anyOf?: JSONSchemaObject[];
  oneOf?: JSONSchemaObject[];
  /** On list fields: "merge", "replace", "retainKeys", "merge,retainKeys"; on map fields: "retainKeys"
   *  or "replace". */
  "x-kubernetes-patch-strategy"?: string;
  /** On list fields with strategy merge whose items are maps: the field identifying an item. */
  "x-kubernetes-patch-merge-key"?: string;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  [k: string]: unknown;
}

export interface PatchMeta {
  /** "merge" merges lists (by merge key for maps, as a set for primitives); "replace" replaces a map
   *  wholesale; undefined is the default (lists atomic, maps merged). */
  strategy: "merge" | "replace" | undefined;
  /** retainKeys only matters when computing patches; applying honours the `$retainKeys` directive. */
  retainKeys: boolean;
  mergeKey: string | undefined;
}

const NO_META: PatchMeta = { strategy: undefined, retainKeys: false, mergeKey: undefined };

function asSchema(v: unknown): JSONSchemaObject | undefined {
  return isPlainObject(v) ? (v as JSONSchemaObject) : undefined;
}

/** The schema itself followed by its combinator branches, depth first. */
function facets(s: JSONSchemaObject, depth = 0): JSONSchemaObject[] {
  const out = [s];
  if (depth > 32) return out;
  for (const key of ["allOf", "anyOf", "oneOf"] as const) {
    const branches = s[key];
    if (!Array.isArray(branches)) continue;
    for (const b of branches) {
      const bs = asSchema(b);
      if (bs) out.push(...facets(bs, depth + 1));
    }
  }
  return out;
}

/** Schema of member `key` of an object described by `s`; undefined when unknown. */
export function propertySchema(s: JSONSchemaObject | undefined, key: string): JSONSchemaObject | undefined {
  if (!s) return undefined;
  const all = facets(s);
  for (const f of all) {
    const props = asSchema(f.properties);
    if (props && Object.hasOwn(props, key)) {
      const p = asSchema(props[key]);
      if (p) return p;
    }
  }
  for (const f of all) {
    const ap = asSchema(f.additionalProperties);
    if (ap) return ap;
  }
  return undefined;
}

/** Schema of the elements of a list described by `s`. */
export function itemsSchema(s: JSONSchemaObject | undefined): JSONSchemaObject | undefined {
  if (!s) return undefined;
  for (const f of facets(s)) {
    const it = asSchema(f.items);
    if (it) return it;
  }
  return undefined;
}

/** Patch metadata of a field, parsed like strategicpatch's extractRetainKeysPatchStrategy. Unknown
 *  strategy words are ignored (the field then behaves as if it had none). */
export function patchMetaOf(s: JSONSchemaObject | undefined): PatchMeta {
  if (!s) return NO_META;
  let strategyText: string | undefined;
  let mergeKey: string | undefined;
  for (const f of facets(s)) {
    const st = f["x-kubernetes-patch-strategy"];
    if (strategyText === undefined && typeof st === "string") strategyText = st;
    const mk = f["x-kubernetes-patch-merge-key"];
    if (mergeKey === undefined && typeof mk === "string" && mk !== "") mergeKey = mk;
  }
  if (strategyText === undefined && mergeKey === undefined) return NO_META;
  const words = (strategyText ?? "")
    .split(",")
    .map((w) => w.trim())
    .filter((w) => w !== "");
  return {
    strategy: words.includes("merge") ? "merge" : words.includes("replace") ? "replace" : undefined,
    retainKeys: words.includes("retainKeys"),
    mergeKey,
  };
}
