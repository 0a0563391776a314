// Schema building blocks shared by every kind: ObjectMeta, LabelSelector, IntOrString, maps,
// free-form subtrees and lists carrying strategic-merge-patch metadata. Everything here is plain
// TypeBox (JSON Schema) so one object serves as TypeScript type, validator, OpenAPI schema and patch
// metadata. Pure: no I/O, no validation logic beyond schema shape (semantic rules live in rules.ts).
import {
  FormatRegistry,
  type Static,
  type TArray,
  type TInteger,
  type TLiteral,
  type TObject,
  type TProperties,
  type TSchema,
  type TString,
  type TUnion,
  Type,
} from "@sinclair/typebox";
import type { KubeObject } from "../object.js";

// TypeBox rejects strings whose `format` it does not know, so the formats the schemas use (they are
// also what Kubernetes' OpenAPI names them) are registered once, here.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has("date-time")) FormatRegistry.Set("date-time", (v) => RFC3339.test(v));

/** Marks a subtree whose content is not modelled; unknown-field detection stops here. */
export const PRESERVE = "x-kubernetes-preserve-unknown-fields";
export const MERGE_KEY = "x-kubernetes-patch-merge-key";
export const PATCH_STRATEGY = "x-kubernetes-patch-strategy";
export const INT_OR_STRING = "x-kubernetes-int-or-string";
export const LIST_TYPE = "x-kubernetes-list-type";

export const Opt = Type.Optional;
export const Str = (description?: string): TString => Type.String(description ? { description } : {});
export const Int = (description?: string): TInteger =>
  Type.Integer(description ? { description, format: "int32" } : { format: "int32" });
export const Int64 = (description?: string): TInteger =>
  Type.Integer(description ? { description, format: "int64" } : { format: "int64" });
export const Bool = (description?: string) => Type.Boolean(description ? { description } : {});
export const Time = (description?: string): TString =>
  Type.String({ format: "date-time", ...(description ? { description } : {}) });

/** A closed struct: unknown fields are reported (the default for every object in this project). */
export const Struct = <T extends TProperties>(props: T, description?: string): TObject<T> =>
  Type.Object(props, description ? { description } : {});

/** A struct whose known fields are checked but whose other fields are kept and not reported. */
export const OpenStruct = <T extends TProperties>(props: T, description?: string): TObject<T> =>
  Type.Object(props, { [PRESERVE]: true, ...(description ? { description } : {}) });

/** `map[string]V`, rendered as `additionalProperties: V` (the form Kubernetes' OpenAPI uses). */
export function MapOf<V extends TSchema>(value: V, description?: string) {
  return Type.Unsafe<Record<string, Static<V>>>(
    Type.Object({}, { additionalProperties: value, ...(description ? { description } : {}) }),
  );
}

/** A subtree not worth modelling (Kubernetes types kept as-is: securityContext, probes...). */
export function FreeForm(description?: string) {
  return Type.Unsafe<Record<string, unknown>>(
    Type.Object({}, { [PRESERVE]: true, ...(description ? { description } : {}) }),
  );
}

/** A string limited to the given values; failures are reported as FieldValueNotSupported. The
 *  `type`/`enum` keys are there for OpenAPI readers; TypeBox checks the literals. */
export function Enum<const T extends readonly string[]>(values: T, description?: string) {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    { type: "string", enum: [...values], ...(description ? { description } : {}) },
  ) as unknown as TUnion<TLiteral<T[number]>[]>;
}

/** Kubernetes' IntOrString (targetPort, NetworkPolicy ports, maxUnavailable...). */
export const IntOrString = (description?: string) =>
  Type.Union([Type.Integer(), Type.String()], {
    [INT_OR_STRING]: true,
    ...(description ? { description } : {}),
  });

/** resource.Quantity: a string ("100m", "1Gi") or a bare number. */
export const Quantity = () => Type.Union([Type.String(), Type.Number()], { [INT_OR_STRING]: true });

/** A list merged by strategic merge patch on `key` (patchStrategy merge, patchMergeKey key). */
export function MergeList<T extends TSchema>(item: T, key: string, strategy = "merge"): TArray<T> {
  return Type.Array(item, { [MERGE_KEY]: key, [PATCH_STRATEGY]: strategy });
}

/** A list of scalars merged as a set by strategic merge patch (patchStrategy merge, no key). */
export function MergeSet<T extends TSchema>(item: T): TArray<T> {
  return Type.Array(item, { [PATCH_STRATEGY]: "merge" });
}

/** A list replaced as a whole by every patch (Kubernetes `+listType=atomic`). */
export function AtomicList<T extends TSchema>(item: T): TArray<T> {
  return Type.Array(item, { [LIST_TYPE]: "atomic" });
}

export const OwnerReferenceSchema = Struct({
  apiVersion: Str(),
  kind: Str(),
  name: Str(),
  uid: Str(),
  controller: Opt(Bool()),
  blockOwnerDeletion: Opt(Bool()),
});

export const ObjectMetaSchema = Struct(
  {
    name: Opt(Str()),
    generateName: Opt(Str()),
    namespace: Opt(Str()),
    selfLink: Opt(Str()),
    uid: Opt(Str()),
    resourceVersion: Opt(Str()),
    generation: Opt(Int64()),
    creationTimestamp: Opt(Time()),
    deletionTimestamp: Opt(Time()),
    deletionGracePeriodSeconds: Opt(Int64()),
    labels: Opt(MapOf(Str())),
    annotations: Opt(MapOf(Str())),
    ownerReferences: Opt(MergeList(OwnerReferenceSchema, "uid")),
    finalizers: Opt(MergeSet(Str())),
    managedFields: Opt(Type.Array(FreeForm())),
  },
  "Standard object metadata (metav1.ObjectMeta).",
);
export type ObjectMeta = Static<typeof ObjectMetaSchema>;

export const LabelSelectorRequirementSchema = Struct({
  key: Str(),
  operator: Str(),
  values: Opt(AtomicList(Str())),
});

export const LabelSelectorSchema = Struct(
  {
    matchLabels: Opt(MapOf(Str())),
    matchExpressions: Opt(AtomicList(LabelSelectorRequirementSchema)),
  },
  "A label query (metav1.LabelSelector); empty selects everything.",
);
export type LabelSelector = Static<typeof LabelSelectorSchema>;

/** metav1.Condition, the modern condition shape (CRDs, Service status). */
export const ConditionSchema = Struct({
  type: Str(),
  status: Str(),
  observedGeneration: Opt(Int64()),
  lastTransitionTime: Opt(Time()),
  reason: Opt(Str()),
  message: Opt(Str()),
});
export type Condition = Static<typeof ConditionSchema>;

export const LocalObjectReferenceSchema = Struct({ name: Opt(Str()) });

export const ObjectReferenceSchema = Struct({
  kind: Opt(Str()),
  namespace: Opt(Str()),
  name: Opt(Str()),
  uid: Opt(Str()),
  apiVersion: Opt(Str()),
  resourceVersion: Opt(Str()),
  fieldPath: Opt(Str()),
});

/** The whole object: TypeMeta, ObjectMeta and the kind's own top-level fields. */
export function KindSchema<T extends TProperties>(description: string, props: T) {
  return Type.Object(
    {
      apiVersion: Str("Versioned schema of this representation of the object."),
      kind: Str("The REST resource this object represents."),
      metadata: ObjectMetaSchema,
      ...props,
    },
    { description },
  );
}

/** Read a nested value without trusting the object's shape (printer columns, field selectors). */
export function dig(obj: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

export function digStr(obj: unknown, ...path: (string | number)[]): string | undefined {
  const v = dig(obj, ...path);
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
}

export function digArr(obj: unknown, ...path: (string | number)[]): unknown[] {
  const v = dig(obj, ...path);
  return Array.isArray(v) ? v : [];
}

/** Comma-joined non-empty strings, or undefined (prints as <none>) when there are none. */
export function joinOrNone(values: unknown[]): string | undefined {
  const s = values.filter((v): v is string => typeof v === "string" && v !== "");
  return s.length > 0 ? s.join(",") : undefined;
}

/** The object as its static type, once structural validation has passed. */
export function as<T>(obj: KubeObject): T {
  return obj as unknown as T;
}
