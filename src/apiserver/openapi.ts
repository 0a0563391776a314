// OpenAPI v3 documents, one per group/version, built from the kinds' TypeBox schemas, as kubectl
// reads them: operations carry x-kubernetes-group-version-kind and the `fieldValidation` / `dryRun`
// query parameters (kubectl checks these before it relies on server-side validation and dry runs),
// schemas carry x-kubernetes-group-version-kind and the patch metadata. Pure.
import { createHash } from "node:crypto";
import { apiVersionOf } from "../api/resource.js";
import type { Served } from "./discovery.js";

const QUERY_PARAMS = ["dryRun", "fieldManager", "fieldValidation", "pretty"].map((name) => ({
  name,
  in: "query",
  schema: { type: "string", uniqueItems: true },
}));

function gvkExt(s: Served) {
  return { group: s.group, version: s.version, kind: s.rt.kind };
}

function schemaName(s: Served): string {
  return s.group === s.rt.group && s.version === s.rt.version
    ? s.rt.openAPIName
    : `${s.rt.openAPIName.replace(/\.[^.]+$/, "")}.legacy.${s.version}.${s.rt.kind}`;
}

/** A JSON-clean copy of a TypeBox schema (drops TypeBox's symbol keys and `$id`). */
function plain(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema));
}

export function openAPIPathsRoot(gvs: { path: string; hash: string }[]): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const gv of gvs) paths[gv.path] = { serverRelativeURL: `/openapi/v3/${gv.path}?hash=${gv.hash}` };
  return { paths };
}

export function openAPIDocument(served: Served[], group: string, version: string): Record<string, unknown> {
  const here = served.filter((s) => s.group === group && s.version === version);
  const schemas: Record<string, unknown> = {};
  const paths: Record<string, unknown> = {};
  const base = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
  for (const s of here) {
    const name = schemaName(s);
    const schema = plain(s.rt.schema) as Record<string, unknown>;
    schema["x-kubernetes-group-version-kind"] = [gvkExt(s)];
    schemas[name] = schema;
    const listName = `${name}List`;
    schemas[listName] = {
      type: "object",
      properties: {
        apiVersion: { type: "string" },
        kind: { type: "string" },
        metadata: { type: "object" },
        items: { type: "array", items: { $ref: `#/components/schemas/${name}` } },
      },
      required: ["items"],
      "x-kubernetes-group-version-kind": [{ group, version, kind: s.rt.listKind }],
    };
    const ref = { $ref: `#/components/schemas/${name}` };
    const body = { content: { "application/json": { schema: ref } }, required: true };
    const ok = { "200": { description: "OK", content: { "application/json": { schema: ref } } } };
    const nsParam = s.rt.namespaced
      ? [{ name: "namespace", in: "path", required: true, schema: { type: "string", uniqueItems: true } }]
      : [];
    const nameParam = [
      { name: "name", in: "path", required: true, schema: { type: "string", uniqueItems: true } },
    ];
    const coll = s.rt.namespaced ? `${base}/namespaces/{namespace}/${s.rt.plural}` : `${base}/${s.rt.plural}`;
    const op = (action: string, extra: Record<string, unknown> = {}) => ({
      operationId: `${action}${s.rt.kind}`,
      "x-kubernetes-action": action,
      "x-kubernetes-group-version-kind": gvkExt(s),
      parameters: QUERY_PARAMS,
      responses: ok,
      ...extra,
    });
    const patchBody = {
      content: {
        "application/json-patch+json": { schema: { type: "object" } },
        "application/merge-patch+json": { schema: { type: "object" } },
        ...(s.rt.builtin ? { "application/strategic-merge-patch+json": { schema: { type: "object" } } } : {}),
      },
      required: true,
    };
    paths[coll] = {
      parameters: nsParam,
      get: op("list", { parameters: [] }),
      post: op("post", { requestBody: body }),
      delete: op("deletecollection"),
    };
    paths[`${coll}/{name}`] = {
      parameters: [...nameParam, ...nsParam],
      get: op("get", { parameters: [] }),
      put: op("put", { requestBody: body }),
      patch: op("patch", { requestBody: patchBody }),
      delete: op("delete"),
    };
    if (s.rt.statusSubresource) {
      paths[`${coll}/{name}/status`] = {
        parameters: [...nameParam, ...nsParam],
        get: op("get", { parameters: [] }),
        put: op("put", { requestBody: body }),
        patch: op("patch", { requestBody: patchBody }),
      };
    }
  }
  return {
    openapi: "3.0.0",
    info: { title: "egress", version: apiVersionOf(group, version) },
    paths,
    components: { schemas },
  };
}

export function hashOf(doc: unknown): string {
  return createHash("sha512").update(JSON.stringify(doc)).digest("hex").slice(0, 64).toUpperCase();
}
