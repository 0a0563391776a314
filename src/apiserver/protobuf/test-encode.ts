// Test support: a tiny protobuf writer for building request bodies by hand in tests, field by field,
// the way gogo-generated Go code lays them out. Not used by production code. Pure: no I/O.

import { encodeVarint } from "./wire.js";

export type Bytes = number[];

export function tag(field: number, wireType: number): Bytes {
  return encodeVarint(field * 8 + wireType);
}

/** VARINT field (bool, int32, int64; negative numbers become 10-byte two's complement). */
export function vint(field: number, value: bigint | number | boolean): Bytes {
  const v = typeof value === "boolean" ? (value ? 1 : 0) : value;
  return [...tag(field, 0), ...encodeVarint(v)];
}

/** LEN field with raw payload bytes. */
export function len(field: number, payload: Bytes | Uint8Array): Bytes {
  return [...tag(field, 2), ...encodeVarint(payload.length), ...payload];
}

export function str(field: number, s: string): Bytes {
  return len(field, [...new TextEncoder().encode(s)]);
}

/** A sub-message field made of the concatenated encoded fields. */
export function msg(field: number, ...fields: Bytes[]): Bytes {
  return len(field, fields.flat());
}

/** One map<string,string> entry. */
export function strEntry(field: number, key: string, value: string): Bytes {
  return msg(field, str(1, key), str(2, value));
}

/** A metav1.Time field holding the given instant (seconds precision). */
export function time(field: number, iso: string): Bytes {
  const seconds = BigInt(Math.floor(Date.parse(iso) / 1000));
  return msg(field, vint(1, seconds), vint(2, 0));
}

export function micro(field: number, seconds: bigint | number, nanos: number): Bytes {
  return msg(field, vint(1, seconds), vint(2, nanos));
}

export function intOrInt(field: number, n: number): Bytes {
  return msg(field, vint(1, 0), vint(2, n), str(3, ""));
}

export function intOrStr(field: number, s: string): Bytes {
  return msg(field, vint(1, 1), vint(2, 0), str(3, s));
}

export function quantity(field: number, q: string): Bytes {
  return msg(field, str(1, q));
}

/** ObjectMeta as kubectl writes it for a new object: value-typed fields present and zero. */
export function objectMeta(name: string, namespace = "", ...extra: Bytes[]): Bytes {
  return msg(
    1,
    str(1, name),
    str(2, ""),
    str(3, namespace),
    str(4, ""),
    str(5, ""),
    str(6, ""),
    vint(7, 0),
    len(8, []),
    ...extra,
  );
}

/** The `k8s\0` envelope around a runtime.Unknown carrying `raw`. */
export function envelope(apiVersion: string, kind: string, raw: Bytes): Uint8Array {
  return Uint8Array.from([
    0x6b,
    0x38,
    0x73,
    0x00,
    ...msg(1, str(1, apiVersion), str(2, kind)),
    ...len(2, raw),
    ...str(3, ""),
    ...str(4, ""),
  ]);
}

export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
