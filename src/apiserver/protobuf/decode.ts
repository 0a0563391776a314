// Schema-driven decoding of Kubernetes protobuf request bodies into the JSON form the apiserver would
// print for the same object: the `k8s\0` envelope, runtime.Unknown, then the kind's message walked with
// the descriptors in ./schema.ts. Go's JSON rules are applied (omitempty zero values dropped, pointer
// fields kept when present, value structs always printed, Time as RFC 3339, IntOrString, Quantity,
// bytes as base64, FieldsV1 embedded, inline structs merged). Pure: no I/O; throws only
// ProtobufDecodeError (and its subclass UnsupportedKindError).

import { ProtobufDecodeError, UnsupportedKindError } from "./errors.js";
import { type FieldDesc, MESSAGES, type MessageDesc, messageForKind, type Scalar } from "./schema.js";
import { asBool, asInt32, asInt64, readPacked, type Span, type Tag, WireReader, WireType } from "./wire.js";

export const PROTOBUF_MAGIC: readonly number[] = [0x6b, 0x38, 0x73, 0x00];

/** Nesting limit. The schema has no recursive messages (depth stays far below this), so reaching it
 *  means a schema mistake; it is a guard, not a tuning knob. */
export const MAX_DEPTH = 64;
/** At most this many unknown-field notes are kept, so a hostile body cannot grow the list without bound. */
const MAX_UNKNOWN_NOTES = 100;

export interface DecodedObject {
  apiVersion: string;
  kind: string;
  /** The object in Kubernetes JSON form, apiVersion and kind included. */
  object: Record<string, unknown>;
  /** Fields the schema does not know (newer releases, untabulated volume sources), skipped:
   *  `spec.volumes[0]#3 (wire type 2)`. */
  unknownFields: string[];
}

export interface DecodeOptions {
  /** apiVersion/kind implied by the request URL, used when the envelope leaves them empty
   *  (as the apiserver does). */
  defaultApiVersion?: string;
  defaultKind?: string;
}

type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
type JsonObject = { [k: string]: JsonValue };

/** One occurrence of a field on the wire. */
interface Occurrence {
  tag: Tag;
  /** Payload span for LEN records. */
  span?: Span;
  /** Raw varint for VARINT records. */
  varint?: bigint;
}

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

class Decoder {
  readonly unknown: string[] = [];
  constructor(readonly buf: Uint8Array) {}

  fail(
    reason: "Malformed" | "InvalidValue" | "TooDeep",
    offset: number,
    detail: string,
    path: string,
  ): never {
    throw new ProtobufDecodeError(reason, offset, detail, path);
  }

  /** Decodes the concatenation of `spans` as one message (protobuf merge semantics). */
  message(desc: MessageDesc, spans: readonly Span[], path: string, depth: number): JsonObject {
    if (depth > MAX_DEPTH) {
      this.fail("TooDeep", spans[0]?.start ?? 0, `nesting deeper than ${MAX_DEPTH}`, path);
    }
    const seen = new Map<number, Occurrence[]>();
    for (const span of spans) {
      const r = new WireReader(this.buf, span.start, span.end);
      while (!r.eof()) {
        const tag = this.guard(() => r.readTag(), path);
        const field = desc.byNumber.get(tag.field);
        if (!field) {
          this.guard(() => r.skip(tag), path);
          if (this.unknown.length < MAX_UNKNOWN_NOTES) {
            this.unknown.push(`${path || "<root>"}#${tag.field} (wire type ${tag.wireType})`);
          }
          continue;
        }
        const occ: Occurrence = { tag };
        if (tag.wireType === WireType.Len) occ.span = this.guard(() => r.readLen(), path);
        else if (tag.wireType === WireType.Varint) occ.varint = this.guard(() => r.readVarint(), path);
        else {
          this.fail("Malformed", tag.offset, `wrong wire type ${tag.wireType} for field ${field.name}`, path);
        }
        this.checkWireType(field, occ, join(path, field.name));
        let list = seen.get(tag.field);
        if (!list) {
          list = [];
          seen.set(tag.field, list);
        }
        list.push(occ);
      }
    }
    const out: JsonObject = {};
    for (const f of desc.fields) this.finish(f, seen.get(f.number) ?? [], out, path, depth);
    return out;
  }

  /** Runs a wire-level read and adds the field path to its error. */
  private guard<T>(read: () => T, path: string): T {
    try {
      return read();
    } catch (e) {
      if (e instanceof ProtobufDecodeError && !e.path && path) {
        throw new ProtobufDecodeError(e.reason, e.offset, e.detail, path);
      }
      throw e;
    }
  }

  private checkWireType(f: FieldDesc, occ: Occurrence, path: string): void {
    const varintType = f.type.kind === "scalar" && ["bool", "int32", "int64"].includes(f.type.scalar);
    const wt = occ.tag.wireType;
    if (varintType && f.shape !== "map") {
      // Repeated numbers may come packed (one LEN record of varints).
      if (wt === WireType.Varint || (wt === WireType.Len && f.shape === "repeated")) return;
    } else if (wt === WireType.Len) {
      return;
    }
    this.fail("Malformed", occ.tag.offset, `wrong wire type ${wt} for field ${f.name}`, path);
  }

  private finish(f: FieldDesc, occ: Occurrence[], out: JsonObject, path: string, depth: number): void {
    const p = join(path, f.name);
    if (f.shape === "map") {
      const entries: JsonObject = {};
      for (const o of occ) {
        const [k, v] = this.mapEntry(f, o.span!, p, depth);
        // defineProperty, not assignment: a key such as "__proto__" must become an own property
        // instead of replacing the object's prototype.
        Object.defineProperty(entries, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      if (occ.length > 0) out[f.name] = entries;
      else if (f.always) out[f.name] = null;
      return;
    }
    if (f.shape === "repeated") {
      const items: JsonValue[] = [];
      for (const o of occ) {
        if (f.type.kind === "scalar" && o.tag.wireType === WireType.Len && f.type.scalar !== "string") {
          if (f.type.scalar === "bytes") items.push(this.scalar("bytes", o, `${p}[${items.length}]`));
          else {
            const s = o.span!;
            for (const v of this.guard(() => readPacked(this.buf, s), p)) {
              items.push(this.number(f.type.scalar, v, s.start, `${p}[${items.length}]`));
            }
          }
        } else {
          items.push(this.value(f, [o], `${p}[${items.length}]`, depth));
        }
      }
      if (items.length > 0) out[f.name] = items;
      else if (f.always) out[f.name] = null;
      return;
    }
    if (f.inline) {
      // Inline members are printed as the parent's own keys, so their path is the parent's.
      const child = this.value(f, occ, path, depth);
      if (child && typeof child === "object" && !Array.isArray(child)) Object.assign(out, child);
      return;
    }
    if (occ.length === 0) {
      if (f.pointer) {
        if (f.always) out[f.name] = null;
        return;
      }
      if (f.type.kind === "scalar") {
        if (f.always) out[f.name] = zeroOf(f.type.scalar);
        return;
      }
      // Value-typed struct: Go prints its zero value ({} / null Time / "0" Quantity).
      out[f.name] = this.value(f, [], p, depth);
      return;
    }
    const v = this.value(f, occ, p, depth);
    if (f.pointer || f.always || f.type.kind !== "scalar" || !isZero(v)) out[f.name] = v;
  }

  /** Decodes a single (non-repeated) value from its occurrences: scalars take the last one, messages
   *  merge all of them. */
  private value(f: FieldDesc, occ: Occurrence[], path: string, depth: number): JsonValue {
    const t = f.type;
    if (t.kind === "scalar") return this.scalar(t.scalar, occ[occ.length - 1]!, path);
    const spans = occ.map((o) => o.span!);
    if (t.kind === "special") return this.special(t.special, spans, path);
    return this.message(MESSAGES.get(t.message)!, spans, path, depth + 1);
  }

  private scalar(s: Scalar, o: Occurrence, path: string): JsonValue {
    if (s === "string") return this.text(o.span!);
    if (s === "bytes") return Buffer.from(this.buf.subarray(o.span!.start, o.span!.end)).toString("base64");
    return this.number(s, o.varint!, o.tag.offset, path);
  }

  private number(s: Scalar, v: bigint, offset: number, path: string): JsonValue {
    if (s === "bool") return asBool(v);
    if (s === "int32") return asInt32(v);
    const n = asInt64(v);
    if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) {
      this.fail("InvalidValue", offset, `int64 value ${n} does not fit a JSON-safe integer`, path);
    }
    return Number(n);
  }

  private text(span: Span): string {
    return utf8.decode(this.buf.subarray(span.start, span.end));
  }

  /** Reads the listed scalar fields of a small well-known message, skipping others. */
  private fields(spans: readonly Span[], path: string): Map<number, Occurrence> {
    const last = new Map<number, Occurrence>();
    for (const span of spans) {
      const r = new WireReader(this.buf, span.start, span.end);
      while (!r.eof()) {
        const tag = this.guard(() => r.readTag(), path);
        if (tag.wireType === WireType.Len)
          last.set(tag.field, { tag, span: this.guard(() => r.readLen(), path) });
        else if (tag.wireType === WireType.Varint)
          last.set(tag.field, { tag, varint: this.guard(() => r.readVarint(), path) });
        else this.guard(() => r.skip(tag), path);
      }
    }
    return last;
  }

  private varintField(m: Map<number, Occurrence>, n: number, path: string): bigint {
    const o = m.get(n);
    if (!o) return 0n;
    if (o.varint === undefined) this.fail("Malformed", o.tag.offset, `field ${n} must be a varint`, path);
    return o.varint;
  }

  private lenField(m: Map<number, Occurrence>, n: number, path: string): Span | undefined {
    const o = m.get(n);
    if (!o) return undefined;
    if (!o.span) this.fail("Malformed", o.tag.offset, `field ${n} must be length-delimited`, path);
    return o.span;
  }

  private special(kind: string, spans: readonly Span[], path: string): JsonValue {
    const at = spans[0]?.start ?? 0;
    switch (kind) {
      case "Time":
      case "MicroTime": {
        // Go's Time/MicroTime Unmarshal replaces rather than merges: the last occurrence wins.
        const last = spans[spans.length - 1];
        if (!last || last.end === last.start) return null;
        const m = this.fields([last], path);
        const seconds = asInt64(this.varintField(m, 1, path));
        const nanos = BigInt(asInt32(this.varintField(m, 2, path)));
        return formatTime(seconds, nanos, kind === "MicroTime", (d) =>
          this.fail("InvalidValue", at, d, path),
        );
      }
      case "IntOrString": {
        const m = this.fields(spans, path);
        const type = asInt64(this.varintField(m, 1, path));
        if (type === 0n) return asInt32(this.varintField(m, 2, path));
        if (type === 1n) {
          const s = this.lenField(m, 3, path);
          return s ? this.text(s) : "";
        }
        return this.fail(
          "InvalidValue",
          at,
          `IntOrString type ${type} is neither 0 (int) nor 1 (string)`,
          path,
        );
      }
      case "Quantity": {
        const last = spans[spans.length - 1];
        if (!last) return "0";
        const s = this.lenField(this.fields([last], path), 1, path);
        if (!s) return "0";
        const q = this.text(s);
        if (!isQuantity(q)) this.fail("InvalidValue", s.start, `invalid quantity ${JSON.stringify(q)}`, path);
        return q;
      }
      default: {
        // FieldsV1: the raw bytes are JSON text and are embedded as JSON.
        const s = this.lenField(this.fields(spans, path), 1, path);
        if (!s) return null;
        const text = this.text(s);
        try {
          return JSON.parse(text) as JsonValue;
        } catch {
          return this.fail("InvalidValue", s.start, "fieldsV1 is not valid JSON", path);
        }
      }
    }
  }

  private mapEntry(f: FieldDesc, span: Span, path: string, depth: number): [string, JsonValue] {
    const key = new Map<number, Occurrence>();
    const values: Occurrence[] = [];
    const r = new WireReader(this.buf, span.start, span.end);
    while (!r.eof()) {
      const tag = this.guard(() => r.readTag(), path);
      if ((tag.field === 1 || tag.field === 2) && tag.wireType !== WireType.Len) {
        this.fail("Malformed", tag.offset, `map entry field ${tag.field} must be length-delimited`, path);
      }
      if (tag.field === 1) key.set(1, { tag, span: this.guard(() => r.readLen(), path) });
      else if (tag.field === 2) values.push({ tag, span: this.guard(() => r.readLen(), path) });
      else this.guard(() => r.skip(tag), path);
    }
    const k = key.get(1);
    const name = k?.span ? this.text(k.span) : "";
    const p = `${path}[${JSON.stringify(name)}]`;
    const t = f.type;
    if (t.kind === "scalar") {
      const last = values[values.length - 1];
      return [name, last ? this.scalar(t.scalar, last, p) : t.scalar === "bytes" ? "" : zeroOf(t.scalar)];
    }
    return [name, this.value(f, values, p, depth)];
  }
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function zeroOf(s: Scalar): JsonValue {
  return s === "string" || s === "bytes" ? "" : s === "bool" ? false : 0;
}

function isZero(v: JsonValue): boolean {
  return v === "" || v === 0 || v === false;
}

const QUANTITY_SUFFIX = /^(?:|[numkMGTPE]|[KMGTPE]i|[eE][-+]?[0-9]+)$/;
/** The grammar of resource.ParseQuantity: signed decimal number, then a binary-SI, decimal-SI or
 *  exponent suffix. Canonicalisation is left to the apiserver's own handling (the wire already carries
 *  Go's canonical form). */
export function isQuantity(q: string): boolean {
  const m = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$/.exec(q);
  return m !== null && QUANTITY_SUFFIX.test(m[2] ?? "");
}

const GO_ZERO_TIME_SECONDS = -62135596800n; // 0001-01-01T00:00:00Z, Go's time.Time{}
const MIN_SECONDS = -62167219200n; // 0000-01-01T00:00:00Z: Go refuses to print years outside 0..9999
const MAX_SECONDS = 253402300799n; // 9999-12-31T23:59:59Z

/** RFC 3339 in UTC as Go's metav1.Time (seconds) or metav1.MicroTime (6 fraction digits) prints it. */
export function formatTime(
  seconds: bigint,
  nanos: bigint,
  micro: boolean,
  fail: (detail: string) => never,
): string | null {
  // time.Unix normalises nanos outside [0, 1e9) into the seconds.
  let sec = seconds + nanos / 1_000_000_000n;
  let ns = nanos % 1_000_000_000n;
  if (ns < 0n) {
    ns += 1_000_000_000n;
    sec -= 1n;
  }
  if (sec === GO_ZERO_TIME_SECONDS && ns === 0n) return null;
  if (sec < MIN_SECONDS || sec > MAX_SECONDS) fail(`time ${seconds}s is outside the years 0..9999`);
  const iso = new Date(Number(sec) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z for years 0..9999
  const base = iso.slice(0, 19);
  if (!micro) return `${base}Z`;
  return `${base}.${(ns / 1000n).toString().padStart(6, "0")}Z`;
}

/** Reads the envelope and decodes the object it carries. Throws ProtobufDecodeError on any problem. */
export function decodeKubernetesProtobuf(body: Uint8Array, options: DecodeOptions = {}): DecodedObject {
  if (body.length === 0) throw new ProtobufDecodeError("BadEnvelope", 0, "empty body");
  for (let i = 0; i < PROTOBUF_MAGIC.length; i++) {
    if (body[i] !== PROTOBUF_MAGIC[i]) {
      throw new ProtobufDecodeError("BadEnvelope", Math.min(i, body.length), 'missing "k8s\\0" magic prefix');
    }
  }
  if (body.length === PROTOBUF_MAGIC.length) {
    throw new ProtobufDecodeError("BadEnvelope", body.length, "body has the magic prefix but no object");
  }
  const d = new Decoder(body);
  const r = new WireReader(body, PROTOBUF_MAGIC.length);
  let apiVersion = "";
  let kind = "";
  let raw: Span = { start: body.length, end: body.length };
  let contentEncoding = "";
  const lenOnly = (tag: Tag, what: string): Span => {
    if (tag.wireType !== WireType.Len) {
      throw new ProtobufDecodeError("BadEnvelope", tag.offset, `${what} must be length-delimited`);
    }
    return r.readLen();
  };
  while (!r.eof()) {
    const tag = r.readTag();
    if (tag.field === 1) {
      const tm = lenOnly(tag, "Unknown.typeMeta");
      const tr = new WireReader(body, tm.start, tm.end);
      while (!tr.eof()) {
        const t = tr.readTag();
        if ((t.field === 1 || t.field === 2) && t.wireType === WireType.Len) {
          const s = tr.readLen();
          const text = utf8.decode(body.subarray(s.start, s.end));
          if (t.field === 1) apiVersion = text;
          else kind = text;
        } else if (t.field === 1 || t.field === 2) {
          throw new ProtobufDecodeError("BadEnvelope", t.offset, "TypeMeta fields must be length-delimited");
        } else tr.skip(t);
      }
    } else if (tag.field === 2) raw = lenOnly(tag, "Unknown.raw");
    else if (tag.field === 3) {
      const s = lenOnly(tag, "Unknown.contentEncoding");
      contentEncoding = utf8.decode(body.subarray(s.start, s.end));
    } else r.skip(tag);
  }
  if (contentEncoding !== "") {
    throw new ProtobufDecodeError(
      "BadEnvelope",
      PROTOBUF_MAGIC.length,
      `unsupported contentEncoding ${JSON.stringify(contentEncoding)}`,
    );
  }
  apiVersion ||= options.defaultApiVersion ?? "";
  kind ||= options.defaultKind ?? "";
  if (!kind || !apiVersion) {
    throw new ProtobufDecodeError("BadEnvelope", PROTOBUF_MAGIC.length, "envelope names no apiVersion/kind");
  }
  const desc = messageForKind(apiVersion, kind);
  if (!desc) throw new UnsupportedKindError(apiVersion, kind, PROTOBUF_MAGIC.length);
  const decoded = d.message(desc, [raw], "", 0);
  const object: Record<string, unknown> = { apiVersion, kind, ...decoded };
  return { apiVersion, kind, object, unknownFields: d.unknown };
}

/** True for request bodies in the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`,
 *  parameters and case ignored). Watch streams (`;stream=watch`) are not request bodies: false. */
export function isProtobufContentType(ct: string): boolean {
  const [type = "", ...params] = ct.split(";").map((s) => s.trim().toLowerCase());
  if (type !== "application/vnd.kubernetes.protobuf") return false;
  return !params.some((p) => p.replace(/\s+/g, "") === "stream=watch");
}
