// Validation of one API object against its ResourceType: structural checks from the TypeBox schema
// (compiled once per schema), unknown-field detection by walking the schema, then the kind's
// semantic rules. Errors carry Kubernetes field paths (`spec.egressIPs[0]`, `metadata.labels[app]`).
// Null fields count as absent, as Go's JSON decoding treats them (`creationTimestamp: null`,
// `podSelector:` in YAML). Pure: no I/O; does not decide what to do with unknown fields (the API
// server applies fieldValidation Strict/Warn/Ignore).
import type { TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import { type FieldError, fieldError, notSupported } from "./errors.js";
import { isRecord, type KubeObject } from "./object.js";
import type { ResourceType } from "./resource.js";

const PRESERVE = "x-kubernetes-preserve-unknown-fields";

export interface ValidationResult {
  /** Structural and semantic problems; empty = valid. */
  errors: FieldError[];
  /** Paths of fields the schema does not know (`spec.foo`, `spec.containers[0].imagee`). */
  unknownFields: string[];
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor(schema: TSchema): TypeCheck<TSchema> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c;
}

/** Compiles the checkers of the given kinds now instead of at first use. */
export function precompile(types: readonly ResourceType[]): void {
  for (const rt of types) {
    checkerFor(rt.schema);
    shapeOf(rt.schema);
  }
}

/** Validates `obj` (a decoded request body, after defaulting) as kind `rt`; `old` on update. */
export function validateObject(rt: ResourceType, obj: unknown, old?: KubeObject): ValidationResult {
  const checker = checkerFor(rt.schema);
  let value = obj;
  let ok = checker.Check(value);
  if (!ok && hasNull(value)) {
    value = dropNulls(value);
    ok = checker.Check(value);
  }
  const shape = shapeOf(rt.schema);
  const unknownFields: string[] = [];
  walkUnknown(value, shape, [], unknownFields, false);
  if (!ok) return { errors: structuralErrors(checker, shape, value), unknownFields };
  return { errors: rt.validate(value as KubeObject, old), unknownFields };
}

/** Removes unknown fields in place (what Kubernetes does with them unless fieldValidation=Strict)
 *  and returns their paths. */
export function pruneUnknownFields(rt: ResourceType, obj: unknown): string[] {
  const out: string[] = [];
  walkUnknown(obj, shapeOf(rt.schema), [], out, true);
  return out;
}

/** A deep copy without object fields whose value is null (Go's decoder skips them). Free-form
 *  subtrees are cleaned too; array elements are kept. */
export function dropNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => dropNulls(v)) as T;
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v);
    return out as T;
  }
  return value;
}

function hasNull(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasNull);
  if (isRecord(value)) {
    for (const k in value) {
      const v = value[k];
      if (v === null || hasNull(v)) return true;
    }
  }
  return false;
}

// ------------------------------------------------------------------------- schema shape (for paths)

/** What unknown-field detection and path rendering need to know about a schema node. */
interface Shape {
  /** Known properties of a struct. */
  props?: Map<string, Shape>;
  /** Struct whose unknown properties are allowed (x-kubernetes-preserve-unknown-fields). */
  open?: boolean;
  /** map[string]V: values' shape (keys render as `[key]`). */
  values?: Shape;
  /** Array items' shape. */
  items?: Shape;
}

const shapes = new WeakMap<TSchema, Shape>();

function shapeOf(schema: TSchema): Shape {
  const cached = shapes.get(schema);
  if (cached) return cached;
  const shape: Shape = {};
  shapes.set(schema, shape); // before recursing: tolerates shared sub-schemas
  const s = schema as Record<string, unknown>;
  if (s.type === "array" && isRecord(s.items)) {
    shape.items = shapeOf(s.items as TSchema);
  } else if (s.type === "object") {
    if (isRecord(s.additionalProperties)) shape.values = shapeOf(s.additionalProperties as TSchema);
    const props = isRecord(s.properties) ? s.properties : {};
    const names = Object.keys(props);
    if (s[PRESERVE] === true) shape.open = true;
    if (shape.values === undefined && (names.length > 0 || !shape.open)) {
      shape.props = new Map(names.map((n) => [n, shapeOf(props[n] as TSchema)]));
    }
  }
  return shape;
}

function fieldPath(base: string, name: string): string {
  return base === "" ? name : `${base}.${name}`;
}

/** Path segments: strings are struct fields, `[x]` entries are indexes/map keys. Joined only when
 *  an unknown field is found, so valid objects cost no string building. */
function joinPath(segs: readonly string[], last: string): string {
  let out = "";
  for (const s of segs) out = s.startsWith("[") ? out + s : fieldPath(out, s);
  return fieldPath(out, last);
}

function walkUnknown(value: unknown, shape: Shape, segs: string[], out: string[], prune: boolean): void {
  if (shape.items) {
    if (!Array.isArray(value)) return;
    const items = shape.items;
    if (items.props === undefined && items.values === undefined && items.items === undefined) return;
    for (let i = 0; i < value.length; i++) {
      segs.push(`[${i}]`);
      walkUnknown(value[i], items, segs, out, prune);
      segs.pop();
    }
    return;
  }
  if (!isRecord(value)) return;
  if (shape.values) {
    const vs = shape.values;
    if (vs.props === undefined && vs.values === undefined && vs.items === undefined) return;
    for (const k in value) {
      segs.push(`[${k}]`);
      walkUnknown(value[k], vs, segs, out, prune);
      segs.pop();
    }
    return;
  }
  const props = shape.props;
  if (!props) return;
  for (const k in value) {
    const sub = props.get(k);
    if (sub) {
      if (sub.props === undefined && sub.values === undefined && sub.items === undefined) continue;
      segs.push(k);
      walkUnknown(value[k], sub, segs, out, prune);
      segs.pop();
    } else if (!shape.open) {
      out.push(joinPath(segs, k));
      if (prune) delete value[k];
    }
  }
}

// ------------------------------------------------------------------------------ structural errors

/** "/spec/ports/0/name" → "spec.ports[0].name"; map keys as "[key]" (metadata.labels[app]). */
function kubePath(pointer: string, shape: Shape): string {
  if (pointer === "") return "";
  const segs = pointer
    .slice(1)
    .split("/")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
  let out = "";
  let cur: Shape | undefined = shape;
  for (const seg of segs) {
    if (cur?.items) {
      out += `[${seg}]`;
      cur = cur.items;
    } else if (cur?.values) {
      out += `[${seg}]`;
      cur = cur.values;
    } else {
      out = fieldPath(out, seg);
      cur = cur?.props?.get(seg);
    }
  }
  return out;
}

const TYPE_NAMES: Partial<Record<ValueErrorType, string>> = {
  [ValueErrorType.String]: "string",
  [ValueErrorType.Integer]: "integer",
  [ValueErrorType.Number]: "number",
  [ValueErrorType.Boolean]: "boolean",
  [ValueErrorType.Object]: "object",
  [ValueErrorType.Array]: "array",
};

function toFieldError(e: ValueError, shape: Shape): FieldError {
  const field = kubePath(e.path, shape) || "<root>";
  const schema = e.schema as Record<string, unknown>;
  if (e.type === ValueErrorType.ObjectRequiredProperty)
    return fieldError(field, "FieldValueRequired", undefined, "Required value");
  const typeName = TYPE_NAMES[e.type];
  if (typeName) return fieldError(field, "FieldValueTypeInvalid", e.value, `must be of type ${typeName}`);
  if (e.type === ValueErrorType.Union) {
    if (Array.isArray(schema.enum)) return notSupported(field, e.value, schema.enum.map(String));
    if (schema["x-kubernetes-int-or-string"] === true) {
      return fieldError(field, "FieldValueTypeInvalid", e.value, "must be of type integer or string");
    }
  }
  if (e.type === ValueErrorType.StringFormat && schema.format === "date-time") {
    return fieldError(
      field,
      "FieldValueInvalid",
      e.value,
      "must be an RFC 3339 date-time (e.g. 2006-01-02T15:04:05Z)",
    );
  }
  return fieldError(field, "FieldValueInvalid", e.value, e.message);
}

function structuralErrors(checker: TypeCheck<TSchema>, shape: Shape, value: unknown): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of checker.Errors(value)) {
    // One error per field: a missing property also yields a type error at the same path.
    if (seen.has(e.path)) continue;
    seen.add(e.path);
    out.push(toFieldError(e, shape));
  }
  return out;
}
