import assert from "node:assert/strict";
import { test } from "node:test";
import { patchTypeFromContentType } from "./content-type.js";

test("patchTypeFromContentType maps the four Kubernetes patch media types", () => {
  const table: [string, ReturnType<typeof patchTypeFromContentType>][] = [
    ["application/merge-patch+json", "merge"],
    ["application/json-patch+json", "json"],
    ["application/strategic-merge-patch+json", "strategic"],
    ["application/apply-patch+yaml", "apply"],
    ["application/strategic-merge-patch+json; charset=utf-8", "strategic"],
    ["Application/JSON-Patch+JSON", "json"],
    ["  application/merge-patch+json  ;charset=UTF-8", "merge"],
    ["application/json", undefined],
    ["application/yaml", undefined],
    ["", undefined],
    ["toString", undefined],
    ["__proto__", undefined],
  ];
  for (const [ct, want] of table) assert.equal(patchTypeFromContentType(ct), want, ct);
});
