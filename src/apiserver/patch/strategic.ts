// Strategic merge patch, following k8s.io/apimachinery/pkg/util/strategicpatch (StrategicMergePatch →
// mergeMap with MergeParallelList and IgnoreUnmatchedNulls, i.e. what kube-apiserver runs for
// `application/strategic-merge-patch+json`). Patch metadata comes from the JSON Schema of the object.
// Pure: no I/O; inputs are never mutated (both are cloned first and the clones are merged in place).
//
// Where this departs from upstream (see docs/patch.md): patch values that land where the original has
// nothing (new keys, new list elements, `$patch: replace` content) are merged into an empty value, so
// nulls and directives inside them are processed instead of stored verbatim; `$patch: merge` is
// accepted as a no-op marker; directives in lists without strategy merge are errors (except the
// `$patch: replace` marker, which is dropped); keys are processed in patch order, so the result is
// deterministic where upstream iterates a Go map.

import { PatchError } from "./errors.js";
import {
  cloneJson,
  fieldPath,
  getOwn,
  hasOwn,
  isPlainObject,
  type JsonObject,
  jsonEqual,
  jsonKind,
  kindName,
  setOwn,
} from "./json.js";
import { itemsSchema, type JSONSchemaObject, patchMetaOf, propertySchema } from "./schema.js";

const DIRECTIVE = "$patch";
const RETAIN_KEYS = "$retainKeys";
const SET_ORDER = "$setElementOrder/";
const DELETE_PRIMITIVE = "$deleteFromPrimitiveList/";

function fail(path: string, detail: string, code: 400 | 422, ...value: unknown[]): PatchError {
  return new PatchError({
    patchType: "strategic",
    path,
    detail,
    code,
    ...(value.length > 0 ? { value: value[0] } : {}),
  });
}

export function applyStrategicMergePatch(target: unknown, patch: unknown, schema: JSONSchemaObject): unknown {
  if (!isPlainObject(patch)) throw fail("", `patch must be a JSON object, got ${kindName(patch)}`, 400);
  let original: JsonObject;
  if (target === undefined || target === null) original = {};
  else if (isPlainObject(target)) original = cloneJson(target, "strategic", "target") as JsonObject;
  else throw fail("", `target must be a JSON object, got ${kindName(target)}`, 422);
  const p = cloneJson(patch, "strategic", "patch") as JsonObject;
  return mergeMap(original, p, schema, "");
}

/** mergeMap: merges `patch` into `original` (mutated and returned, or replaced by a directive). */
function mergeMap(
  original: JsonObject,
  patch: JsonObject,
  schema: JSONSchemaObject | undefined,
  path: string,
): JsonObject {
  if (hasOwn(patch, DIRECTIVE)) {
    const d = patch[DIRECTIVE];
    if (d === "delete") return {};
    if (d === "replace") {
      const rest: JsonObject = {};
      for (const k of Object.keys(patch)) if (k !== DIRECTIVE) setOwn(rest, k, patch[k]);
      return mergeMap({}, rest, schema, path);
    }
    if (d !== "merge") {
      throw fail(
        fieldPath(path, DIRECTIVE),
        "unknown patch directive (supported: replace, delete, merge)",
        400,
        d,
      );
    }
  }
  applyRetainKeys(original, patch, path);
  const handled = mergeOrderedLists(original, patch, schema, path);

  for (const k of Object.keys(patch)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(SET_ORDER) || handled.has(k)) continue;
    const pv = patch[k];
    if (k.startsWith(DELETE_PRIMITIVE)) {
      const field = k.slice(DELETE_PRIMITIVE.length);
      const kpath = fieldPath(path, k);
      if (field === "") throw fail(kpath, "directive names no field", 400);
      if (!Array.isArray(pv)) throw fail(kpath, "must be a list of values to delete", 400, pv);
      const ov = getOwn(original, field);
      // Upstream skips silently when the original has no such list; so do we.
      if (Array.isArray(ov)) setOwn(original, field, deleteFromPrimitiveList(ov, pv, kpath));
      continue;
    }
    const fpath = fieldPath(path, k);
    const sub = propertySchema(schema, k);
    if (pv === null) {
      delete original[k];
      continue;
    }
    const ov = getOwn(original, k);
    if (!hasOwn(original, k) || jsonKind(ov) !== jsonKind(pv)) {
      // Deleting a map that is not there is a no-op rather than the creation of an empty map.
      if (!hasOwn(original, k) && isPlainObject(pv) && pv[DIRECTIVE] === "delete") continue;
      setOwn(original, k, fresh(pv, sub, fpath));
    } else if (isPlainObject(ov) && isPlainObject(pv)) {
      const replace = patchMetaOf(sub).strategy === "replace";
      setOwn(original, k, replace ? fresh(pv, sub, fpath) : mergeMap(ov, pv, sub, fpath));
    } else if (Array.isArray(ov) && Array.isArray(pv)) {
      setOwn(original, k, mergeList(ov, pv, sub, fpath));
    } else {
      setOwn(original, k, pv);
    }
  }
  return original;
}

/** A patch value for a place where the original has nothing to merge with. */
function fresh(pv: unknown, schema: JSONSchemaObject | undefined, path: string): unknown {
  if (isPlainObject(pv)) return mergeMap({}, pv, schema, path);
  if (Array.isArray(pv)) return mergeList([], pv, schema, path);
  return pv;
}

/** `$retainKeys`: drop every original key not listed; every non-null patch field must be listed. */
function applyRetainKeys(original: JsonObject, patch: JsonObject, path: string): void {
  if (!hasOwn(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  const rpath = fieldPath(path, RETAIN_KEYS);
  if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) {
    throw fail(rpath, "must be a list of field names", 400, list);
  }
  const keep = new Set<string>(list as string[]);
  for (const k of Object.keys(patch)) {
    if (k === RETAIN_KEYS || k === DIRECTIVE || k.startsWith(SET_ORDER) || k.startsWith(DELETE_PRIMITIVE))
      continue;
    if (patch[k] === null) continue;
    if (!keep.has(k))
      throw fail(rpath, `patch sets field ${JSON.stringify(k)}, which $retainKeys does not list`, 422, list);
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

type KeyFn = (v: unknown) => unknown;

function keyFnFor(mergeKey: string | undefined): KeyFn {
  return mergeKey === undefined ? (v) => v : (v) => (isPlainObject(v) ? getOwn(v, mergeKey) : undefined);
}

function indexIn(list: readonly unknown[], v: unknown, key: KeyFn): number {
  const kv = key(v);
  return list.findIndex((o) => jsonEqual(key(o), kv));
}

/** Stable sort of `items` by their position in `order`; items missing from `order` go last. */
function sortByOrder(items: unknown[], order: readonly unknown[], key: KeyFn): unknown[] {
  return items
    .map((v, i) => ({ v, i, at: indexIn(order, v, key) }))
    .sort((a, b) => {
      if (a.at >= 0 && b.at >= 0) return a.at - b.at || a.i - b.i;
      if (a.at >= 0) return -1;
      if (b.at >= 0) return 1;
      return a.i - b.i;
    })
    .map((x) => x.v);
}

/** strategicpatch.mergeSortedSlice: interleaves server-only items (`left`) into the patch items
 *  (`right`), keeping both relative orders; a server-only item goes first only when it preceded the
 *  current patch item in the live list. */
function mergeSorted(
  left: unknown[],
  right: unknown[],
  serverOrder: readonly unknown[],
  key: KeyFn,
): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i], key);
      const ri = indexIn(serverOrder, right[j], key);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

/** normalizeElementOrder: patch items in `patchOrder`, server-only items in live order, interleaved. */
function normalizeOrder(
  merged: unknown[],
  patchOrder: readonly unknown[],
  serverOrder: readonly unknown[],
  key: KeyFn,
) {
  const inPatch = (v: unknown) => indexIn(patchOrder, v, key) >= 0;
  const patchItems = sortByOrder(
    merged.filter((v) => inPatch(v)),
    patchOrder,
    key,
  );
  const serverOnly = sortByOrder(
    merged.filter((v) => !inPatch(v)),
    serverOrder,
    key,
  );
  return mergeSorted(serverOnly, patchItems, serverOrder, key);
}

function isDirectiveElement(v: unknown): v is JsonObject {
  return isPlainObject(v) && hasOwn(v, DIRECTIVE);
}

function requireMergeKey(list: readonly unknown[], mergeKey: string, path: string, code: 400 | 422): void {
  list.forEach((v, i) => {
    if (!isPlainObject(v) || !hasOwn(v, mergeKey)) {
      throw fail(`${path}[${i}]`, `list element has no merge key ${JSON.stringify(mergeKey)}`, code, v);
    }
  });
}

/** `$setElementOrder/<field>` (mergePatchIntoOriginal): merges the field's patch list, then orders the
 *  result by the directive. Returns the fields it finished, which the main loop must skip. */
function mergeOrderedLists(
  original: JsonObject,
  patch: JsonObject,
  schema: JSONSchemaObject | undefined,
  path: string,
): Set<string> {
  const handled = new Set<string>();
  for (const k of Object.keys(patch)) {
    if (!k.startsWith(SET_ORDER)) continue;
    const field = k.slice(SET_ORDER.length);
    const kpath = fieldPath(path, k);
    const fpath = fieldPath(path, field);
    if (field === "") throw fail(kpath, "directive names no field", 400);
    const order = patch[k];
    if (!Array.isArray(order)) throw fail(kpath, "must be a list", 400, order);
    const sub = propertySchema(schema, field);
    const meta = patchMetaOf(sub);
    // A list without strategy merge is replaced whole and carries its own order.
    if (meta.strategy !== "merge") continue;
    const mk = meta.mergeKey;
    const key = keyFnFor(mk);
    if (mk !== undefined) requireMergeKey(order, mk, kpath, 400);
    else {
      order.forEach((v, i) => {
        if (isPlainObject(v) || Array.isArray(v))
          throw fail(`${kpath}[${i}]`, "must list primitive values", 400, v);
      });
    }
    const ovRaw = getOwn(original, field);
    const ov = Array.isArray(ovRaw) ? ovRaw : undefined;
    let pv: unknown[] | undefined;
    if (hasOwn(patch, field)) {
      const raw = patch[field];
      if (!Array.isArray(raw)) throw fail(fpath, `must be a list when ${k} is given`, 400, raw);
      pv = raw;
      validatePatchAgainstOrder(pv, order, key, kpath);
    }
    handled.add(field);
    let merged: unknown[];
    if (ov && pv) merged = mergeList(ov, pv, sub, fpath);
    else if (ov) merged = ov;
    else if (pv) merged = mergeList([], pv, sub, fpath);
    else continue;
    if (mk !== undefined) requireMergeKey(merged, mk, fpath, 422);
    setOwn(original, field, normalizeOrder(merged, order, ov ?? [], key));
  }
  return handled;
}

/** validatePatchWithSetOrderList: every non-directive patch item appears in the order list, in the
 *  same relative order. */
function validatePatchAgainstOrder(
  pv: readonly unknown[],
  order: readonly unknown[],
  key: KeyFn,
  path: string,
) {
  const items = pv.filter((v) => !isDirectiveElement(v));
  if (items.length === 0 || order.length === 0) return;
  let pi = 0;
  for (let oi = 0; oi < order.length && pi < items.length; oi++) {
    if (jsonEqual(key(items[pi]), key(order[oi]))) pi++;
  }
  if (pi < items.length) {
    throw fail(
      path,
      "the patch list has items missing from this order list, or in a different order",
      400,
      order,
    );
  }
}

/** Kind of the elements of a merging list; lists of lists and mixed kinds cannot be merged. */
function elementKind(values: readonly unknown[], path: string): "object" | "primitive" | undefined {
  let kind: string | undefined;
  for (const v of values) {
    const k = jsonKind(v) ?? "unknown";
    if (k === "array") throw fail(path, "lists of lists cannot be merged", 422);
    if (kind === undefined) kind = k;
    else if (kind !== k) throw fail(path, `list elements have different types (${kind} and ${k})`, 422);
  }
  return kind === undefined ? undefined : kind === "object" ? "object" : "primitive";
}

/** mergeSliceHandler: lists with strategy merge are merged, the rest replaced by the patch list. */
function mergeList(
  original: unknown[],
  patch: unknown[],
  schema: JSONSchemaObject | undefined,
  path: string,
): unknown[] {
  const meta = patchMetaOf(schema);
  if (meta.strategy !== "merge") return atomicList(patch, path);
  if (original.length === 0 && patch.length === 0) return original;

  const directives: { i: number; d: JsonObject }[] = [];
  const regular: { i: number; v: unknown }[] = [];
  patch.forEach((v, i) => {
    if (isDirectiveElement(v)) directives.push({ i, d: v });
    else regular.push({ i, v });
  });
  const kind = elementKind([...original, ...regular.map((r) => r.v)], path);
  const mk = meta.mergeKey;
  if (kind === "primitive" || (kind === undefined && mk === undefined)) {
    return mergePrimitiveList(
      original,
      regular.map((r) => r.v),
      directives,
      path,
    );
  }
  if (mk === undefined)
    throw fail(path, "cannot merge a list of maps without a merge key (x-kubernetes-patch-merge-key)", 422);
  return mergeMapList(original, regular, directives, mk, itemsSchema(schema), path);
}

function mergePrimitiveList(
  original: unknown[],
  regular: unknown[],
  directives: { i: number; d: JsonObject }[],
  path: string,
): unknown[] {
  let replace = false;
  for (const { i, d } of directives) {
    const dir = d[DIRECTIVE];
    if (dir === "replace") replace = true;
    else if (dir === "delete") {
      throw fail(
        `${path}[${i}]`,
        "$patch: delete needs a list of maps with a merge key; use $deleteFromPrimitiveList/<field> for lists of values",
        400,
        d,
      );
    } else if (dir !== "merge")
      throw fail(fieldPath(`${path}[${i}]`, DIRECTIVE), "unknown patch directive", 400, dir);
  }
  if (replace) return regular;
  const merged: unknown[] = [];
  for (const v of [...original, ...regular]) if (!merged.some((m) => jsonEqual(m, v))) merged.push(v);
  return normalizeOrder(merged, regular, original, (v) => v);
}

function mergeMapList(
  original: unknown[],
  regular: { i: number; v: unknown }[],
  directives: { i: number; d: JsonObject }[],
  mk: string,
  items: JSONSchemaObject | undefined,
  path: string,
): unknown[] {
  const key = keyFnFor(mk);
  requireMergeKey(original, mk, path, 422);
  let base = original;
  let replace = false;
  for (const { i, d } of directives) {
    const dir = d[DIRECTIVE];
    if (dir === "delete") {
      if (!hasOwn(d, mk)) {
        throw fail(
          `${path}[${i}]`,
          `$patch: delete element must carry the merge key ${JSON.stringify(mk)}`,
          400,
          d,
        );
      }
      base = base.filter((e) => !jsonEqual(key(e), d[mk]));
    } else if (dir === "replace") replace = true;
    else if (dir !== "merge")
      throw fail(fieldPath(`${path}[${i}]`, DIRECTIVE), "unknown patch directive", 400, dir);
  }
  for (const { i, v } of regular) {
    if (!isPlainObject(v) || !hasOwn(v, mk)) {
      throw fail(`${path}[${i}]`, `list element has no merge key ${JSON.stringify(mk)}`, 400, v);
    }
  }
  let patchList = regular;
  if (replace) {
    base = [];
    for (const { i, v } of regular) upsert(base, v as JsonObject, i);
    patchList = [];
  }
  const merged = [...base];
  for (const { i, v } of patchList) upsert(merged, v as JsonObject, i);
  return normalizeOrder(
    merged,
    patchList.map((r) => r.v),
    base,
    key,
  );

  function upsert(list: unknown[], v: JsonObject, i: number): void {
    const at = indexIn(list, v, key);
    const epath = `${path}[${i}]`;
    if (at >= 0) list[at] = mergeMap(list[at] as JsonObject, v, items, epath);
    else list.push(mergeMap({}, v, items, epath));
  }
}

/** A list without strategy merge: the patch list replaces the original as it is. */
function atomicList(patch: unknown[], path: string): unknown[] {
  const out: unknown[] = [];
  patch.forEach((v, i) => {
    if (!isDirectiveElement(v)) {
      out.push(v);
      return;
    }
    const dir = v[DIRECTIVE];
    if (dir === "replace" || dir === "merge") return;
    if (dir === "delete") {
      throw fail(
        `${path}[${i}]`,
        "$patch: delete needs a list with patch strategy merge; this list is replaced as a whole",
        422,
        v,
      );
    }
    throw fail(fieldPath(`${path}[${i}]`, DIRECTIVE), "unknown patch directive", 400, dir);
  });
  return out;
}

/** `$deleteFromPrimitiveList/<field>`: removes every occurrence of the listed values. */
function deleteFromPrimitiveList(original: unknown[], toDelete: unknown[], path: string): unknown[] {
  toDelete.forEach((v, i) => {
    if (isPlainObject(v) || Array.isArray(v))
      throw fail(`${path}[${i}]`, "can only delete primitive values", 400, v);
  });
  return original.filter((v) => !toDelete.some((d) => jsonEqual(d, v)));
}
