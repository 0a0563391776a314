import assert from "node:assert/strict";
import { test } from "node:test";
import { PatchError } from "./errors.js";
import { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS } from "./json-patch.js";

// RFC 6902 Appendix A examples that succeed.
const rfcOk: { name: string; doc: unknown; patch: unknown[]; want: unknown }[] = [
  {
    name: "A.1 add an object member",
    doc: { foo: "bar" },
    patch: [{ op: "add", path: "/baz", value: "qux" }],
    want: { foo: "bar", baz: "qux" },
  },
  {
    name: "A.2 add an array element",
    doc: { foo: ["bar", "baz"] },
    patch: [{ op: "add", path: "/foo/1", value: "qux" }],
    want: { foo: ["bar", "qux", "baz"] },
  },
  {
    name: "A.3 remove an object member",
    doc: { baz: "qux", foo: "bar" },
    patch: [{ op: "remove", path: "/baz" }],
    want: { foo: "bar" },
  },
  {
    name: "A.4 remove an array element",
    doc: { foo: ["bar", "qux", "baz"] },
    patch: [{ op: "remove", path: "/foo/1" }],
    want: { foo: ["bar", "baz"] },
  },
  {
    name: "A.5 replace a value",
    doc: { baz: "qux", foo: "bar" },
    patch: [{ op: "replace", path: "/baz", value: "boo" }],
    want: { baz: "boo", foo: "bar" },
  },
  {
    name: "A.6 move a value",
    doc: { foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } },
    patch: [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }],
    want: { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } },
  },
  {
    name: "A.7 move an array element",
    doc: { foo: ["all", "grass", "cows", "eat"] },
    patch: [{ op: "move", from: "/foo/1", path: "/foo/3" }],
    want: { foo: ["all", "cows", "eat", "grass"] },
  },
  {
    name: "A.8 test a value: success",
    doc: { baz: "qux", foo: ["a", 2, "c"] },
    patch: [
      { op: "test", path: "/baz", value: "qux" },
      { op: "test", path: "/foo/1", value: 2 },
    ],
    want: { baz: "qux", foo: ["a", 2, "c"] },
  },
  {
    name: "A.10 add a nested member object",
    doc: { foo: "bar" },
    patch: [{ op: "add", path: "/child", value: { grandchild: {} } }],
    want: { foo: "bar", child: { grandchild: {} } },
  },
  {
    name: "A.11 ignore unrecognized elements",
    doc: { foo: "bar" },
    patch: [{ op: "add", path: "/baz", value: "qux", xyz: 123 }],
    want: { foo: "bar", baz: "qux" },
  },
  {
    name: "A.14 ~ escape ordering",
    doc: { "/": 9, "~1": 10 },
    patch: [{ op: "test", path: "/~01", value: 10 }],
    want: { "/": 9, "~1": 10 },
  },
  {
    name: "A.16 add an array value",
    doc: { foo: ["bar"] },
    patch: [{ op: "add", path: "/foo/-", value: ["abc", "def"] }],
    want: { foo: ["bar", ["abc", "def"]] },
  },
  {
    name: "copy, test with object equality regardless of member order, replace the root",
    doc: { a: { x: 1, y: [1, { z: 2 }] } },
    patch: [
      { op: "copy", from: "/a", path: "/b" },
      { op: "test", path: "/b", value: { y: [1, { z: 2 }], x: 1 } },
      { op: "replace", path: "", value: { whole: true } },
    ],
    want: { whole: true },
  },
  {
    name: "kubectl patch --type=json on a Pod: add label with / in key, remove container, append toleration",
    doc: {
      metadata: { labels: {} },
      spec: {
        containers: [{ name: "a" }, { name: "b" }],
        tolerations: [{ key: "x" }],
      },
    },
    patch: [
      { op: "add", path: "/metadata/labels/app.kubernetes.io~1name", value: "web" },
      { op: "remove", path: "/spec/containers/0" },
      { op: "add", path: "/spec/tolerations/-", value: { key: "y" } },
    ],
    want: {
      metadata: { labels: { "app.kubernetes.io/name": "web" } },
      spec: { containers: [{ name: "b" }], tolerations: [{ key: "x" }, { key: "y" }] },
    },
  },
];

for (const tc of rfcOk) {
  test(`json patch: ${tc.name}`, () => {
    assert.deepEqual(applyJsonPatch(tc.doc, tc.patch), tc.want);
  });
}

const rfcFail: { name: string; doc: unknown; patch: unknown; message: string; code: 400 | 422 }[] = [
  {
    name: "A.9 test a value: error",
    doc: { baz: "qux" },
    patch: [{ op: "test", path: "/baz", value: "bar" }],
    message: 'json patch operation 0 (test /baz): test failed: value is "qux", expected "bar"',
    code: 422,
  },
  {
    name: "A.12 add to a nonexistent target",
    doc: { foo: "bar" },
    patch: [{ op: "add", path: "/baz/bat", value: "qux" }],
    message: "json patch operation 0 (add /baz/bat): path not found",
    code: 422,
  },
  {
    name: "A.15 comparing strings and numbers",
    doc: { "/": 9, "~1": 10 },
    patch: [{ op: "test", path: "/~01", value: "10" }],
    message: 'json patch operation 0 (test /~01): test failed: value is 10, expected "10"',
    code: 422,
  },
  {
    name: "replace of a missing member names the op index and path",
    doc: { spec: {} },
    patch: [
      { op: "test", path: "/spec", value: {} },
      { op: "add", path: "/spec/a", value: 1 },
      { op: "replace", path: "/spec/foo", value: 1 },
    ],
    message: "json patch operation 2 (replace /spec/foo): path not found",
    code: 422,
  },
  {
    name: "remove of a missing member",
    doc: {},
    patch: [{ op: "remove", path: "/a" }],
    message: "json patch operation 0 (remove /a): path not found",
    code: 422,
  },
  {
    name: "array index past the end",
    doc: { l: [1] },
    patch: [{ op: "add", path: "/l/2", value: 0 }],
    message: "json patch operation 0 (add /l/2): array index 2 out of range (length 1)",
    code: 422,
  },
  {
    name: "leading zero index",
    doc: { l: [1, 2] },
    patch: [{ op: "remove", path: "/l/01" }],
    message: 'json patch operation 0 (remove /l/01): invalid array index "01" at /l',
    code: 422,
  },
  {
    name: "- only appends",
    doc: { l: [1] },
    patch: [{ op: "remove", path: "/l/-" }],
    message: 'json patch operation 0 (remove /l/-): invalid array index "-" at /l',
    code: 422,
  },
  {
    name: "move into its own child",
    doc: { a: { b: {} } },
    patch: [{ op: "move", from: "/a", path: "/a/b/c" }],
    message: "json patch operation 0 (move /a/b/c): cannot move /a into its own child",
    code: 422,
  },
  {
    name: "copy from a missing path",
    doc: {},
    patch: [{ op: "copy", from: "/x", path: "/y" }],
    message: 'json patch operation 0 (copy /y): "from" path not found: /x',
    code: 422,
  },
  {
    name: "remove the root",
    doc: {},
    patch: [{ op: "remove", path: "" }],
    message: "json patch operation 0 (remove ): cannot remove the document root",
    code: 422,
  },
  {
    name: "descending through a string",
    doc: { a: "s" },
    patch: [{ op: "add", path: "/a/b", value: 1 }],
    message: "json patch operation 0 (add /a/b): path not found: /a is a string, not an object or array",
    code: 422,
  },
  {
    name: "ops document is an object",
    doc: {},
    patch: { op: "add", path: "/a", value: 1 },
    message: "json patch: patch must be a JSON array of operations, got object",
    code: 400,
  },
  {
    name: "operation is not an object",
    doc: {},
    patch: ["add"],
    message: "json patch operation 0 (? ?): operation must be a JSON object, got string",
    code: 400,
  },
  {
    name: "unknown op",
    doc: {},
    patch: [{ op: "append", path: "/a" }],
    message:
      'json patch operation 0 (append /a): unknown op "append"; supported: add, remove, replace, move, copy, test',
    code: 400,
  },
  {
    name: "missing value",
    doc: {},
    patch: [{ op: "add", path: "/a" }],
    message: 'json patch operation 0 (add /a): "value" is required',
    code: 400,
  },
  {
    name: "path without leading slash",
    doc: {},
    patch: [{ op: "remove", path: "a" }],
    message: 'json patch operation 0 (remove a): "path" must be a JSON pointer starting with "/": "a"',
    code: 400,
  },
  {
    name: "bad escape",
    doc: {},
    patch: [{ op: "remove", path: "/a~2" }],
    message:
      'json patch operation 0 (remove /a~2): "path" has an invalid escape (only ~0 and ~1 are allowed): "/a~2"',
    code: 400,
  },
  {
    name: "missing from",
    doc: {},
    patch: [{ op: "move", path: "/a" }],
    message: 'json patch operation 0 (move /a): "from" must be a string, got undefined',
    code: 400,
  },
  {
    name: "a malformed later op stops the patch before anything applies",
    doc: {},
    patch: [
      { op: "add", path: "/a", value: 1 },
      { op: "add", path: 5, value: 1 },
    ],
    message: 'json patch operation 1 (add ?): "path" must be a string, got number',
    code: 400,
  },
];

for (const tc of rfcFail) {
  test(`json patch error: ${tc.name}`, () => {
    assert.throws(
      () => applyJsonPatch(tc.doc, tc.patch),
      (e: unknown) => {
        assert.ok(e instanceof PatchError, String(e));
        assert.equal(e.message, tc.message);
        assert.equal(e.code, tc.code);
        assert.equal(e.patchType, "json");
        return true;
      },
    );
  });
}

test("json patch: the failing op index is exposed and the input is untouched", () => {
  const doc = { a: [1, 2, 3] };
  try {
    applyJsonPatch(doc, [
      { op: "remove", path: "/a/0" },
      { op: "test", path: "/a/0", value: 3 },
    ]);
    assert.fail("expected a PatchError");
  } catch (e) {
    assert.ok(e instanceof PatchError);
    assert.equal(e.operationIndex, 1);
    assert.equal(e.path, "/a/0");
    assert.equal(e.toApiError().code, 422);
  }
  assert.deepEqual(doc, { a: [1, 2, 3] });
});

test("json patch: added values are copies of the ops' values", () => {
  const value = { x: [1] };
  const out = applyJsonPatch({}, [{ op: "add", path: "/v", value }]) as { v: { x: number[] } };
  out.v.x.push(2);
  assert.deepEqual(value, { x: [1] });
});

test("json patch: too many operations", () => {
  const ops = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({
    op: "test",
    path: "",
    value: {},
  }));
  assert.throws(() => applyJsonPatch({}, ops), /the maximum allowed is 10000/);
});

test("json patch: __proto__ as a path token is an own member", () => {
  const out = applyJsonPatch({}, [{ op: "add", path: "/__proto__", value: { polluted: 1 } }]);
  assert.equal(JSON.stringify(out), '{"__proto__":{"polluted":1}}');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.throws(() => applyJsonPatch({}, [{ op: "remove", path: "/__proto__/x" }]), /path not found/);
});
