// Test support: finds the committed fixtures (captured kubectl bodies, descriptors) in the source
// tree, whether the tests run from dist/ or .build/<name>/, and parses FileDescriptorProto bytes.
// Not used by production code.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Span, WireReader } from "./wire.js";

const REL = join("src", "apiserver", "protobuf", "fixtures");

/** Walks up from this compiled file until a directory holds src/apiserver/protobuf/fixtures. */
export function fixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, REL))) return join(dir, REL);
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find ${REL} above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export function readFixture(...parts: string[]): Uint8Array {
  return new Uint8Array(readFileSync(join(fixturesDir(), ...parts)));
}

export interface ProtoField {
  name: string;
  number: number;
  repeated: boolean;
  /** FieldDescriptorProto.Type: 3 int64, 5 int32, 8 bool, 9 string, 11 message, 12 bytes. */
  type: number;
  /** Fully qualified, leading dot: `.k8s.io.api.core.v1.PodSpec`. */
  typeName: string;
}

export interface ProtoMessage {
  fields: ProtoField[];
  mapEntry: boolean;
}

/** Parses a FileDescriptorProto into `package.Message[.Nested]` → message. */
export function parseFileDescriptor(buf: Uint8Array): Map<string, ProtoMessage> {
  const td = new TextDecoder();
  const text = (s: Span) => td.decode(buf.subarray(s.start, s.end));
  function each(span: Span, fn: (field: number, span: Span | undefined, varint: bigint | undefined) => void) {
    const r = new WireReader(buf, span.start, span.end);
    while (!r.eof()) {
      const t = r.readTag();
      if (t.wireType === 2) fn(t.field, r.readLen(), undefined);
      else if (t.wireType === 0) fn(t.field, undefined, r.readVarint());
      else r.skip(t);
    }
  }
  const out = new Map<string, ProtoMessage>();
  let pkg = "";
  const messages: Span[] = [];
  each({ start: 0, end: buf.length }, (f, s) => {
    if (f === 2 && s) pkg = text(s);
    if (f === 4 && s) messages.push(s);
  });
  function message(span: Span, prefix: string): void {
    let name = "";
    const fields: ProtoField[] = [];
    const nested: Span[] = [];
    let mapEntry = false;
    each(span, (f, s) => {
      if (!s) return;
      if (f === 1) name = text(s);
      if (f === 3) nested.push(s);
      if (f === 7) {
        each(s, (o, _s, v) => {
          if (o === 7 && v !== undefined) mapEntry = v !== 0n;
        });
      }
      if (f === 2) {
        const fd: ProtoField = { name: "", number: 0, repeated: false, type: 0, typeName: "" };
        each(s, (ff, ss, v) => {
          if (ff === 1 && ss) fd.name = text(ss);
          if (ff === 3) fd.number = Number(v);
          if (ff === 4) fd.repeated = v === 3n;
          if (ff === 5) fd.type = Number(v);
          if (ff === 6 && ss) fd.typeName = text(ss);
        });
        fields.push(fd);
      }
    });
    const full = `${prefix}.${name}`;
    out.set(full, { fields, mapEntry });
    for (const n of nested) message(n, full);
  }
  for (const m of messages) message(m, pkg);
  return out;
}
