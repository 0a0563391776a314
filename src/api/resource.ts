// What the system knows about each kind: where it is served, its schema, how it prints and which
// field selectors it supports. The API server, the OpenAPI publisher, the patch engine and the CLI
// all read this one description. Pure: no I/O.
import type { TSchema } from "@sinclair/typebox";
import type { FieldError } from "./errors.js";
import type { KubeObject } from "./object.js";

/** A column of `kubectl get` output (server-side Table), like a CRD's additionalPrinterColumns. */
export interface PrinterColumn {
  name: string;
  /** OpenAPI type of the cell: string, integer, number, boolean, date. */
  type: "string" | "integer" | "number" | "boolean" | "date";
  format?: string;
  description: string;
  /** 0 = shown by default; 1 = only with `-o wide`. */
  priority: number;
  /** Cell value for one object; undefined/null prints as <none>. */
  cell: (obj: KubeObject) => string | number | boolean | null | undefined;
}

export interface ResourceType {
  /** API group, "" for the core group. */
  group: string;
  version: string;
  kind: string;
  listKind: string;
  /** Lower-case plural, the URL segment: "egressips". */
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  /** Whether `/status` is a subresource: then the main endpoint ignores status changes and
   *  `/status` ignores everything but status (and metadata labels/annotations are kept). */
  statusSubresource: boolean;
  /** TypeBox (JSON Schema) for the whole object. The single source of the TypeScript type, the
   *  structural validation, the OpenAPI document (including x-kubernetes-patch-merge-key /
   *  x-kubernetes-patch-strategy, which the strategic-merge-patch engine reads) and unknown-field
   *  detection. Free-form parts carry `x-kubernetes-preserve-unknown-fields: true`. */
  schema: TSchema;
  /** Definition name in OpenAPI, e.g. "io.k8s.api.core.v1.Pod" or "org.ovn.k8s.v1.EgressIP". */
  openAPIName: string;
  /** True for built-in Kubernetes kinds that kubectl knows as Go types: PATCH accepts
   *  strategic-merge-patch for them (CRD-style kinds get 415 for SMP, as in Kubernetes). */
  builtin: boolean;
  /** Other group/versions serving the same stored objects (e.g. the OpenShift 3.x legacy `v1` form
   *  of network.openshift.io kinds). Objects read through such a path carry that apiVersion. */
  aliases: { group: string; version: string }[];
  /** Semantic validation beyond the schema (IP syntax, ranges, cross-field rules). `old` is set on
   *  update. Returns every problem, each with field path and value. */
  validate(obj: KubeObject, old?: KubeObject): FieldError[];
  /** On update, before defaults and validation: drops fields that depended on a changed field, as
   *  Kubernetes' update strategies do (a Service changed to ClusterIP loses its node ports).
   *  Mutates `obj`. */
  prepareUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Fills defaults on create/update (e.g. Service type ClusterIP). Mutates `obj`. */
  defaults?(obj: KubeObject): void;
  /** Columns for `kubectl get`; NAME (and AGE at the end) are added by the server. */
  columns: PrinterColumn[];
  /** Field selector keys supported beyond metadata.name and metadata.namespace. */
  fieldSelectors: Record<string, (obj: KubeObject) => string | undefined>;
  /** `spec` changes bump metadata.generation (true for most kinds with a spec). */
  hasGeneration: boolean;
}

export function apiVersionOf(group: string, version: string): string {
  return group === "" ? version : `${group}/${version}`;
}

/** "apps/v1" → {group:"apps", version:"v1"}; "v1" → {group:"", version:"v1"}. */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.lastIndexOf("/");
  return i < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}
