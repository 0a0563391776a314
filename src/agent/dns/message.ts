// DNS wire format (RFC 1035, with the EDNS OPT record of RFC 6891 kept as raw data): parses and
// encodes whole messages for the node's cluster DNS. Pure: no sockets, no clock. Only the record
// data the cluster DNS writes or reads is decoded (A, AAAA, CNAME, SOA); every other record keeps
// its bytes. Names are text with labels joined by "." (no trailing dot); bytes other than printable
// ASCII, "." and "\" in a label are written as \DDD, as zone files do.

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  AXFR: 252,
  ANY: 255,
} as const;

export const CLASS_IN = 1;
export const CLASS_ANY = 255;

export const OPCODE_QUERY = 0;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** The largest UDP response without EDNS (RFC 1035 §4.2.1). */
export const UDP_MAX_PLAIN = 512;

export interface DnsFlags {
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export type RData =
  | { kind: "A"; address: string }
  | { kind: "AAAA"; address: string }
  | { kind: "CNAME"; target: string }
  | {
      kind: "SOA";
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    }
  | { kind: "raw"; bytes: Uint8Array };

export interface DnsRecord {
  name: string;
  type: number;
  /** For OPT: the requestor's UDP payload size. */
  class: number;
  /** For OPT: extended RCODE, version and flags. */
  ttl: number;
  data: RData;
}

export interface DnsMessage {
  id: number;
  flags: DnsFlags;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

/** A message that cannot be parsed (or a value that cannot be encoded): where and why. */
export class DnsFormatError extends Error {
  override name = "DnsFormatError";
  constructor(
    readonly offset: number,
    readonly detail: string,
  ) {
    super(`DNS message at byte ${offset}: ${detail}`);
  }
}

const MAX_NAME = 255;
const MAX_LABEL = 63;
const MAX_POINTERS = 64;

// ---------------------------------------------------------------------------------------------
// Parsing

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
  ) {}

  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length)
      throw new DnsFormatError(this.pos, `${what}: needs ${n} bytes, ${this.buf.length - this.pos} left`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return b[p]! * 0x1000000 + (b[p + 1]! << 16) + (b[p + 2]! << 8) + b[p + 3]!;
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A possibly compressed name; leaves `pos` after the name's bytes at its first location. */
  name(what: string): string {
    const labels: string[] = [];
    let pos = this.pos;
    let end: number | undefined;
    let total = 1;
    for (let jumps = 0; ; ) {
      if (pos >= this.buf.length) throw new DnsFormatError(pos, `${what}: name runs past the message`);
      const len = this.buf[pos]!;
      if (len === 0) {
        pos += 1;
        break;
      }
      const tag = len & 0xc0;
      if (tag === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new DnsFormatError(pos, `${what}: truncated pointer`);
        const target = ((len & 0x3f) << 8) | this.buf[pos + 1]!;
        if (++jumps > MAX_POINTERS) throw new DnsFormatError(pos, `${what}: compression pointer loop`);
        if (target >= pos)
          throw new DnsFormatError(pos, `${what}: pointer ${target} does not point backwards`);
        end ??= pos + 2;
        pos = target;
        continue;
      }
      if (tag !== 0) throw new DnsFormatError(pos, `${what}: unsupported label type 0x${tag.toString(16)}`);
      if (pos + 1 + len > this.buf.length)
        throw new DnsFormatError(pos, `${what}: label runs past the message`);
      total += len + 1;
      if (total > MAX_NAME) throw new DnsFormatError(pos, `${what}: name longer than ${MAX_NAME} bytes`);
      labels.push(labelText(this.buf.subarray(pos + 1, pos + 1 + len)));
      pos += 1 + len;
    }
    this.pos = end ?? pos;
    return labels.join(".");
  }
}

function labelText(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    if (b === 0x2e || b === 0x5c) s += `\\${String.fromCharCode(b)}`;
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\${b.toString().padStart(3, "0")}`;
  }
  return s;
}

function readRecord(r: Reader, section: string, i: number): DnsRecord {
  const what = `${section}[${i}]`;
  const name = r.name(`${what}.name`);
  const type = r.u16(`${what}.type`);
  const klass = r.u16(`${what}.class`);
  const ttl = r.u32(`${what}.ttl`);
  const len = r.u16(`${what}.rdlength`);
  r.need(len, `${what}.rdata`);
  const start = r.pos;
  const end = start + len;
  let data: RData;
  if (type === TYPE.A && klass === CLASS_IN) {
    if (len !== 4) throw new DnsFormatError(start, `${what}: A record data is ${len} bytes, not 4`);
    data = { kind: "A", address: [...r.bytes(4, what)].join(".") };
  } else if (type === TYPE.AAAA && klass === CLASS_IN) {
    if (len !== 16) throw new DnsFormatError(start, `${what}: AAAA record data is ${len} bytes, not 16`);
    const b = r.bytes(16, what);
    const groups: string[] = [];
    for (let j = 0; j < 16; j += 2) groups.push(((b[j]! << 8) | b[j + 1]!).toString(16));
    data = { kind: "AAAA", address: groups.join(":") };
  } else if (type === TYPE.CNAME) {
    data = { kind: "CNAME", target: r.name(`${what}.cname`) };
  } else if (type === TYPE.SOA) {
    data = {
      kind: "SOA",
      mname: r.name(`${what}.mname`),
      rname: r.name(`${what}.rname`),
      serial: r.u32(what),
      refresh: r.u32(what),
      retry: r.u32(what),
      expire: r.u32(what),
      minimum: r.u32(what),
    };
  } else {
    data = { kind: "raw", bytes: r.bytes(len, what) };
  }
  if (r.pos !== end)
    throw new DnsFormatError(
      start,
      `${what}: record data is ${len} bytes but its fields take ${r.pos - start}`,
    );
  return { name, type, class: klass, ttl, data };
}

export function decodeFlags(v: number): DnsFlags {
  return {
    qr: (v & 0x8000) !== 0,
    opcode: (v >> 11) & 0xf,
    aa: (v & 0x0400) !== 0,
    tc: (v & 0x0200) !== 0,
    rd: (v & 0x0100) !== 0,
    ra: (v & 0x0080) !== 0,
    ad: (v & 0x0020) !== 0,
    cd: (v & 0x0010) !== 0,
    rcode: v & 0xf,
  };
}

export function encodeFlags(f: DnsFlags): number {
  return (
    (f.qr ? 0x8000 : 0) |
    ((f.opcode & 0xf) << 11) |
    (f.aa ? 0x0400 : 0) |
    (f.tc ? 0x0200 : 0) |
    (f.rd ? 0x0100 : 0) |
    (f.ra ? 0x0080 : 0) |
    (f.ad ? 0x0020 : 0) |
    (f.cd ? 0x0010 : 0) |
    (f.rcode & 0xf)
  );
}

/** The header's id, or undefined when the buffer is too short to have one. */
export function messageId(buf: Uint8Array): number | undefined {
  return buf.length >= 2 ? (buf[0]! << 8) | buf[1]! : undefined;
}

export function parseMessage(buf: Uint8Array): DnsMessage {
  const r = new Reader(buf);
  const id = r.u16("header.id");
  const flags = decodeFlags(r.u16("header.flags"));
  const counts = [
    r.u16("header.qdcount"),
    r.u16("header.ancount"),
    r.u16("header.nscount"),
    r.u16("header.arcount"),
  ];
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const name = r.name(`question[${i}].name`);
    questions.push({ name, type: r.u16(`question[${i}].type`), class: r.u16(`question[${i}].class`) });
  }
  const section = (n: number, label: string) => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < n; i++) out.push(readRecord(r, label, i));
    return out;
  };
  const answers = section(counts[1]!, "answer");
  const authorities = section(counts[2]!, "authority");
  const additionals = section(counts[3]!, "additional");
  if (r.pos !== buf.length)
    throw new DnsFormatError(r.pos, `${buf.length - r.pos} bytes after the last record`);
  return { id, flags, questions, answers, authorities, additionals };
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Name text → label byte strings (\DDD and \X escapes undone). */
export function nameLabels(name: string): Uint8Array[] {
  if (name === "" || name === ".") return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  const text = name.endsWith(".") && !name.endsWith("\\.") ? name.slice(0, -1) : name;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      labels.push(Uint8Array.from(cur));
      cur = [];
    } else if (c === 0x5c) {
      const digits = /^\d{3}/.exec(text.slice(i + 1));
      if (digits) {
        const v = Number(digits[0]);
        if (v > 255)
          throw new DnsFormatError(0, `name ${JSON.stringify(name)}: escape \\${digits[0]} is not a byte`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        cur.push(text.charCodeAt(++i));
      } else throw new DnsFormatError(0, `name ${JSON.stringify(name)}: ends in a lone backslash`);
    } else {
      if (c > 0xff)
        throw new DnsFormatError(0, `name ${JSON.stringify(name)}: character ${text[i]} is not a byte`);
      cur.push(c);
    }
  }
  labels.push(Uint8Array.from(cur));
  let total = 1;
  for (const l of labels) {
    if (l.length === 0) throw new DnsFormatError(0, `name ${JSON.stringify(name)}: empty label`);
    if (l.length > MAX_LABEL)
      throw new DnsFormatError(0, `name ${JSON.stringify(name)}: label longer than ${MAX_LABEL} bytes`);
    total += l.length + 1;
  }
  if (total > MAX_NAME)
    throw new DnsFormatError(0, `name ${JSON.stringify(name)}: longer than ${MAX_NAME} bytes`);
  return labels;
}

class Writer {
  private buf = new Uint8Array(512);
  pos = 0;
  /** Lower-cased name suffix → offset, for compression (RFC 1035 §4.1.4). */
  private readonly names = new Map<string, number>();

  private grow(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf);
    this.buf = next;
  }
  u8(v: number): void {
    this.grow(1);
    this.buf[this.pos++] = v & 0xff;
  }
  u16(v: number): void {
    this.u8(v >> 8);
    this.u8(v);
  }
  u32(v: number): void {
    this.u16(Math.floor(v / 0x10000) & 0xffff);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  setU16(at: number, v: number): void {
    this.buf[at] = (v >> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }
  name(name: string, compress: boolean): void {
    const labels = nameLabels(name);
    for (let i = 0; i < labels.length; i++) {
      const key = labels
        .slice(i)
        .map((l) => Buffer.from(l).toString("latin1").toLowerCase())
        .join("\u0000");
      const at = compress ? this.names.get(key) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (compress && this.pos < 0x4000) this.names.set(key, this.pos);
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

function ipv4Bytes(s: string): Uint8Array {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255))
    throw new DnsFormatError(0, `A record address ${JSON.stringify(s)} is not an IPv4 address`);
  return Uint8Array.from(parts.map(Number));
}

function ipv6Bytes(s: string): Uint8Array {
  const bad = () => new DnsFormatError(0, `AAAA record address ${JSON.stringify(s)} is not an IPv6 address`);
  const halves = s.split("::");
  if (halves.length > 2) throw bad();
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) throw bad();
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

function writeRecord(w: Writer, rr: DnsRecord): void {
  w.name(rr.name, true);
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl >>> 0);
  const lenAt = w.pos;
  w.u16(0);
  const start = w.pos;
  const d = rr.data;
  switch (d.kind) {
    case "A":
      w.bytes(ipv4Bytes(d.address));
      break;
    case "AAAA":
      w.bytes(ipv6Bytes(d.address));
      break;
    case "CNAME":
      w.name(d.target, true);
      break;
    case "SOA":
      w.name(d.mname, true);
      w.name(d.rname, true);
      for (const v of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) w.u32(v >>> 0);
      break;
    case "raw":
      w.bytes(d.bytes);
      break;
  }
  const len = w.pos - start;
  if (len > 0xffff) throw new DnsFormatError(start, `record ${rr.name}: data longer than 65535 bytes`);
  w.setU16(lenAt, len);
}

export function encodeMessage(m: DnsMessage): Uint8Array {
  const w = new Writer();
  w.u16(m.id);
  w.u16(encodeFlags(m.flags));
  for (const n of [m.questions.length, m.answers.length, m.authorities.length, m.additionals.length])
    w.u16(n);
  for (const q of m.questions) {
    w.name(q.name, true);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of [...m.answers, ...m.authorities, ...m.additionals]) writeRecord(w, rr);
  return w.done();
}

/** The message's EDNS OPT record, if any. */
export function optRecord(m: DnsMessage): DnsRecord | undefined {
  return m.additionals.find((r) => r.type === TYPE.OPT);
}

/**
 * Encodes a response for a UDP reply of at most `limit` bytes: when it does not fit, the answer and
 * authority sections are dropped and TC is set (RFC 2181 §9), so the client asks again over TCP.
 */
export function encodeForUdp(m: DnsMessage, limit: number): Uint8Array {
  const full = encodeMessage(m);
  if (full.length <= limit) return full;
  return encodeMessage({
    ...m,
    flags: { ...m.flags, tc: true },
    answers: [],
    authorities: [],
    additionals: m.additionals.filter((r) => r.type === TYPE.OPT),
  });
}

/** Lower-cased, without a trailing dot: the form names are compared in. */
export function canonicalName(name: string): string {
  const n = name.endsWith(".") && !name.endsWith("\\.") ? name.slice(0, -1) : name;
  return n.toLowerCase();
}
