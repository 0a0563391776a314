// Property tests over all three engines: merge patch round-trips diffs, SMP without directives on
// schemas without merge strategy equals merge patch, nothing mutates or aliases its inputs, and any
// malformed input ends in a PatchError rather than another exception.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PatchError } from "./errors.js";
import { applyJsonPatch } from "./json-patch.js";
import { applyMergePatch } from "./merge-patch.js";
import type { JSONSchemaObject } from "./schema.js";
import { applyStrategicMergePatch } from "./strategic.js";
import { podSchema } from "./test-schemas.js";

type Obj = Record<string, unknown>;
const RUNS = 300;

function objectFrom(entries: [string, unknown][]): Obj {
  const o: Obj = {};
  for (const [k, v] of entries)
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

const plainKey = fc.oneof(
  fc.constantFrom("a", "b", "c", "name", "items", "__proto__", "constructor", "x.y", ""),
  fc.string({ maxLength: 3 }).filter((s) => !s.startsWith("$")),
);
const primitive = fc.oneof(fc.string({ maxLength: 4 }), fc.integer({ min: -5, max: 5 }), fc.boolean());

/** JSON values; `null` appears only where `nullMembers` allows it in objects, and anywhere in arrays. */
function jsonArbs(key: fc.Arbitrary<string>, nullMembers: boolean) {
  return fc.letrec<{ value: unknown; arr: unknown[]; obj: Obj; member: unknown }>((tie) => ({
    value: fc.oneof({ depthSize: "small", withCrossShrink: true }, primitive, tie("arr"), tie("obj")),
    member: nullMembers ? fc.oneof(tie("value"), fc.constant(null)) : tie("value"),
    arr: fc.array(fc.oneof(tie("value"), fc.constant(null)), { maxLength: 3 }),
    obj: fc
      .uniqueArray(fc.tuple(key, tie("member")), { maxLength: 4, selector: (e) => e[0] })
      .map(objectFrom),
  }));
}

const noNulls = jsonArbs(plainKey, false);
const withNulls = jsonArbs(plainKey, true);

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The merge patch that turns `a` into `b` (b has no null members, so this is exact). */
function diff(a: Obj, b: Obj): Obj {
  const p: Obj = {};
  const set = (k: string, v: unknown) =>
    Object.defineProperty(p, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const k of Object.keys(a)) if (!Object.hasOwn(b, k)) set(k, null);
  for (const k of Object.keys(b)) {
    const av = Object.hasOwn(a, k) ? a[k] : undefined;
    const bv = b[k];
    if (!Object.hasOwn(a, k)) set(k, bv);
    else if (isObj(av) && isObj(bv)) {
      const d = diff(av, bv);
      if (Object.keys(d).length > 0) set(k, d);
    } else if (JSON.stringify(av) !== JSON.stringify(bv) || !isDeepEqual(av, bv)) set(k, bv);
  }
  return p;
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

test("property: merge patch applies a generated diff exactly", () => {
  fc.assert(
    fc.property(noNulls.obj, noNulls.obj, (a, b) => {
      assert.deepEqual(applyMergePatch(a, diff(a, b)), b);
    }),
    { numRuns: RUNS },
  );
});

// Schemas that carry patch metadata but no merge strategy: every list is atomic, every map merges
// (except a map under a field whose strategy is `replace`, see the property).
const noMergeSchemas: JSONSchemaObject[] = [
  {},
  { type: "object", additionalProperties: { type: "object", additionalProperties: true } },
  {
    type: "object",
    properties: {
      a: { type: "array", "x-kubernetes-patch-strategy": "replace", items: { type: "object" } },
      b: {
        type: "object",
        "x-kubernetes-patch-strategy": "retainKeys",
        additionalProperties: { type: "array", "x-kubernetes-patch-merge-key": "name" },
      },
      items: { type: "array", items: { type: "object", properties: { name: { type: "string" } } } },
    },
  },
];

test("property: SMP without directives on schemas without merge strategy equals merge patch", () => {
  fc.assert(
    fc.property(withNulls.obj, withNulls.obj, fc.constantFrom(...noMergeSchemas), (target, patch, schema) => {
      // The third schema's `a` has patch strategy `replace`: a MAP under it is replaced whole, as
      // Kubernetes does (not merged), so that field holds the property only when it is no map.
      fc.pre(!(schema === noMergeSchemas[2] && isObj(target.a) && isObj(patch.a)));
      assert.deepEqual(applyStrategicMergePatch(target, patch, schema), applyMergePatch(target, patch));
    }),
    { numRuns: RUNS },
  );
});

test("a map under a field with patch strategy replace is replaced, not merged", () => {
  const schema = noMergeSchemas[2]!;
  assert.deepEqual(applyStrategicMergePatch({ a: { "": false } }, { a: {} }, schema), { a: {} });
  assert.deepEqual(applyMergePatch({ a: { "": false } }, { a: {} }), { a: { "": false } });
});

// Kubernetes-shaped documents sprinkled with directives, valid and invalid.
const k8sKey = fc.constantFrom(
  "metadata",
  "spec",
  "containers",
  "initContainers",
  "name",
  "image",
  "env",
  "value",
  "finalizers",
  "labels",
  "tolerations",
  "volumes",
  "ports",
  "containerPort",
  "$patch",
  "$retainKeys",
  "$setElementOrder/containers",
  "$setElementOrder/env",
  "$setElementOrder/finalizers",
  "$deleteFromPrimitiveList/finalizers",
  "$setElementOrder/",
  "__proto__",
);
const directiveValue = fc.constantFrom("delete", "replace", "merge", "bogus", "a", "b", "name");
const k8s = fc.letrec<{ value: unknown; arr: unknown[]; obj: Obj }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    directiveValue,
    fc.integer({ min: 0, max: 3 }),
    fc.constant(null),
    tie("arr"),
    tie("obj"),
  ),
  arr: fc.array(tie("value"), { maxLength: 4 }),
  obj: fc
    .uniqueArray(fc.tuple(k8sKey, tie("value")), { maxLength: 5, selector: (e) => e[0] })
    .map(objectFrom),
}));

const pointer = fc
  .array(
    fc.oneof(
      fc.constantFrom("a", "b", "0", "1", "-", "01", "~0", "~1", "~2", "__proto__"),
      fc.string({ maxLength: 2 }),
    ),
    {
      maxLength: 3,
    },
  )
  .map((ts) => ts.map((t) => `/${t}`).join(""));
const jsonOp = fc.record(
  {
    op: fc.constantFrom("add", "remove", "replace", "move", "copy", "test", "bogus"),
    path: fc.oneof(pointer, fc.constant("nope"), fc.integer()),
    from: pointer,
    value: withNulls.value,
  },
  { requiredKeys: ["op"] },
);

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null) {
    for (const k of Object.keys(v)) deepFreeze((v as Obj)[k]);
    Object.freeze(v);
  }
  return v;
}

function containers(v: unknown, into = new Set<object>()): Set<object> {
  if (typeof v === "object" && v !== null) {
    into.add(v);
    for (const k of Object.keys(v)) containers((v as Obj)[k], into);
  }
  return into;
}

/** Runs `f`; it must return or throw a PatchError. Returns the result (undefined after an error). */
function expectResultOrPatchError(f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof PatchError)) throw e;
    assert.ok(e.message.length > 0);
    return undefined;
  }
}

function assertNoMutationOrAliasing(inputs: unknown[], run: () => unknown) {
  // JSON text, not structuredClone: generated objects may have a null prototype, which a clone loses.
  const snapshot = JSON.stringify(inputs);
  inputs.forEach(deepFreeze);
  const out = expectResultOrPatchError(run);
  assert.equal(JSON.stringify(inputs), snapshot);
  const shared = containers(inputs);
  for (const o of containers(out)) assert.ok(!shared.has(o), "result shares an object with an input");
}

test("property: no engine mutates or aliases its inputs (frozen inputs, shared-object check)", () => {
  fc.assert(
    fc.property(k8s.obj, k8s.obj, (target, patch) => {
      assertNoMutationOrAliasing([target, patch], () => applyMergePatch(target, patch));
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(k8s.obj, k8s.obj, (target, patch) => {
      assertNoMutationOrAliasing([target, patch], () => applyStrategicMergePatch(target, patch, podSchema));
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(withNulls.obj, fc.array(jsonOp, { maxLength: 4 }), (target, ops) => {
      assertNoMutationOrAliasing([target, ops], () => applyJsonPatch(target, ops));
    }),
    { numRuns: RUNS },
  );
});

test("property: malformed patches give PatchError, never another exception", () => {
  fc.assert(
    fc.property(fc.oneof(k8s.obj, fc.jsonValue()), fc.oneof(k8s.value, fc.jsonValue()), (target, patch) => {
      expectResultOrPatchError(() => applyStrategicMergePatch(target, patch, podSchema));
      expectResultOrPatchError(() => applyMergePatch(target, patch));
    }),
    { numRuns: RUNS * 2 },
  );
  fc.assert(
    fc.property(
      fc.jsonValue(),
      fc.oneof(fc.array(fc.oneof(jsonOp, fc.jsonValue()), { maxLength: 4 }), fc.jsonValue()),
      (target, ops) => {
        expectResultOrPatchError(() => applyJsonPatch(target, ops));
      },
    ),
    { numRuns: RUNS * 2 },
  );
});

test("property: SMP with directives targets a Pod schema deterministically", () => {
  fc.assert(
    fc.property(k8s.obj, k8s.obj, (target, patch) => {
      const a = expectResultOrPatchError(() => applyStrategicMergePatch(target, patch, podSchema));
      const b = expectResultOrPatchError(() => applyStrategicMergePatch(target, patch, podSchema));
      assert.deepEqual(a, b);
    }),
    { numRuns: RUNS },
  );
});
