// Tests for validateObject: structural errors with Kubernetes paths and readable details, null
// handling, unknown-field detection and pruning, and that semantic rules run only on well-formed
// objects.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Type } from "@sinclair/typebox";
import { invalid } from "./errors.js";
import {
  Enum,
  FreeForm,
  IntOrString,
  KindSchema,
  MapOf,
  OpenStruct,
  Opt,
  Str,
  Struct,
} from "./kinds/common.js";
import { defineKind } from "./kinds/define.js";
import { findByKind } from "./kinds/index.js";
import type { KubeObject } from "./object.js";
import { dropNulls, pruneUnknownFields, validateObject } from "./validate.js";

let semanticCalls = 0;
const testType = defineKind({
  group: "test.example.com",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
  openAPIName: "com.example.test.v1.Widget",
  schema: KindSchema("test kind", {
    spec: Struct({
      size: Type.Integer(),
      mode: Opt(Enum(["Fast", "Slow"] as const)),
      port: Opt(IntOrString()),
      tags: Opt(Type.Array(Str())),
      parts: Opt(Type.Array(Struct({ name: Str(), weight: Opt(Type.Number()) }))),
      byName: Opt(MapOf(Struct({ value: Str() }))),
      extra: Opt(FreeForm()),
      loose: Opt(OpenStruct({ known: Opt(Struct({ a: Opt(Str()) })) })),
    }),
  }),
  validate(obj) {
    semanticCalls++;
    const size = (obj.spec as { size: number }).size;
    return size > 10 ? [invalid("spec.size", size, "must be at most 10")] : [];
  },
});

const widget = (spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: "w" }) => ({
  apiVersion: "test.example.com/v1",
  kind: "Widget",
  metadata,
  spec: { size: 1, ...spec },
});

describe("structural errors", () => {
  const table: [
    string,
    Record<string, unknown>,
    { field: string; type: string; value?: unknown; detail?: RegExp },
  ][] = [
    [
      "type mismatch",
      widget({ size: "big" }),
      { field: "spec.size", type: "FieldValueTypeInvalid", value: "big", detail: /must be of type integer/ },
    ],
    ["required", { ...widget({}), spec: {} }, { field: "spec.size", type: "FieldValueRequired" }],
    [
      "enum",
      widget({ mode: "Medium" }),
      { field: "spec.mode", type: "FieldValueNotSupported", value: "Medium", detail: /"Fast", "Slow"/ },
    ],
    [
      "int-or-string",
      widget({ port: [1] }),
      { field: "spec.port", type: "FieldValueTypeInvalid", detail: /integer or string/ },
    ],
    [
      "array index",
      widget({ tags: ["a", 2] }),
      { field: "spec.tags[1]", type: "FieldValueTypeInvalid", value: 2, detail: /string/ },
    ],
    [
      "nested index",
      widget({ parts: [{ name: "a" }, { name: "b", weight: "x" }] }),
      { field: "spec.parts[1].weight", type: "FieldValueTypeInvalid", detail: /number/ },
    ],
    [
      "map key",
      widget({ byName: { "a/b": { value: 1 } } }),
      { field: "spec.byName[a/b].value", type: "FieldValueTypeInvalid" },
    ],
    [
      "metadata label",
      widget({}, { name: "w", labels: { app: 3 } }),
      { field: "metadata.labels[app]", type: "FieldValueTypeInvalid", value: 3 },
    ],
    [
      "not an object",
      { ...widget({}), spec: "nope" },
      { field: "spec", type: "FieldValueTypeInvalid", detail: /object/ },
    ],
  ];
  for (const [name, obj, exp] of table) {
    it(name, () => {
      const { errors } = validateObject(testType, obj);
      const e = errors.find((x) => x.field === exp.field);
      assert.ok(e, `no error at ${exp.field}: ${JSON.stringify(errors)}`);
      assert.equal(e.type, exp.type);
      if (exp.value !== undefined) assert.deepEqual(e.value, exp.value);
      if (exp.detail) assert.match(e.detail, exp.detail);
    });
  }
  it("reports one error per field", () => {
    const { errors } = validateObject(testType, { ...widget({}), spec: {} });
    assert.equal(errors.filter((e) => e.field === "spec.size").length, 1);
  });
  it("semantic rules run only when the structure is valid", () => {
    semanticCalls = 0;
    assert.equal(validateObject(testType, widget({ size: "x" })).errors.length, 1);
    assert.equal(semanticCalls, 0);
    const r = validateObject(testType, widget({ size: 11 }));
    assert.equal(semanticCalls, 1);
    assert.deepEqual(r.errors, [invalid("spec.size", 11, "must be at most 10")]);
  });
  it("object metadata rules come with every kind", () => {
    const r = validateObject(testType, widget({}, { name: "Not_Valid" }));
    assert.equal(r.errors[0]?.field, "metadata.name");
  });
});

describe("nulls count as absent", () => {
  it("creationTimestamp: null and null optional fields validate", () => {
    const r = validateObject(
      testType,
      widget({ mode: null, tags: null }, { name: "w", creationTimestamp: null }),
    );
    assert.deepEqual(r, { errors: [], unknownFields: [] });
  });
  it("a null required field is reported as required", () => {
    const r = validateObject(testType, widget({ size: null }));
    assert.deepEqual(
      r.errors.map((e) => [e.field, e.type]),
      [["spec.size", "FieldValueRequired"]],
    );
  });
  it("semantic rules see the object without nulls", () => {
    const np = findByKind("networking.k8s.io/v1", "NetworkPolicy")!;
    const obj = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "n" },
      spec: { podSelector: null, ingress: [] },
    };
    assert.deepEqual(validateObject(np, obj), { errors: [], unknownFields: [] });
  });
  it("dropNulls copies without null fields, keeps array elements", () => {
    const input = { a: null, b: { c: null, d: 1 }, e: [null, { f: null }] };
    assert.deepEqual(dropNulls(input), { b: { d: 1 }, e: [null, {}] });
    assert.deepEqual(input.b, { c: null, d: 1 });
  });
});

describe("unknown fields", () => {
  it("reports paths through structs, lists and maps; free-form and open structs are skipped", () => {
    const obj = widget({
      colour: "red",
      parts: [{ name: "a", wieght: 1 }],
      byName: { k: { value: "v", other: 1 } },
      extra: { anything: { at: "all" } },
      loose: { whatever: 1, known: { a: "x", b: "y" } },
    });
    (obj as Record<string, unknown>).top = 1;
    const r = validateObject(testType, obj);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.unknownFields.sort(), [
      "spec.byName[k].other",
      "spec.colour",
      "spec.loose.known.b",
      "spec.parts[0].wieght",
      "top",
    ]);
  });
  it("are reported even when the object has structural errors", () => {
    const r = validateObject(testType, widget({ size: "x", colour: 1 }));
    assert.deepEqual(r.unknownFields, ["spec.colour"]);
    assert.equal(r.errors.length, 1);
  });
  it("pruneUnknownFields removes them in place", () => {
    const obj = widget({ colour: "red", parts: [{ name: "a", wieght: 1 }] }) as unknown as KubeObject;
    assert.deepEqual(pruneUnknownFields(testType, obj).sort(), ["spec.colour", "spec.parts[0].wieght"]);
    assert.deepEqual(obj.spec, { size: 1, parts: [{ name: "a" }] });
    assert.deepEqual(validateObject(testType, obj).unknownFields, []);
  });
});
