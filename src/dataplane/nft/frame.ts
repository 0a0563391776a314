// The nft-helper's wire format (helper/nft-helper.c): length-prefixed frames on its stdin/stdout.
//   request: op byte ('A' apply, 'C' check, 'J' JSON command) + u32 big-endian length + UTF-8 payload
//   reply:   status byte ('O' ok, 'E' error)                   + u32 big-endian length + UTF-8 text
// Pure encoding/decoding only (no I/O): the decoders take chunks as a pipe delivers them, split
// anywhere, and return the frames completed so far.

export type RequestOp = "apply" | "check" | "json";

export interface Request {
  op: RequestOp;
  payload: string;
}

export interface Reply {
  ok: boolean;
  text: string;
}

/** A frame that does not follow the format (a helper that is not the nft-helper, or corrupted). */
export class FrameError extends Error {
  constructor(
    readonly what: string,
    readonly value: number,
  ) {
    super(`nft-helper frame: ${what} 0x${value.toString(16).padStart(2, "0")}`);
    this.name = "FrameError";
  }
}

const OP_BYTE: Record<RequestOp, number> = { apply: 0x41, check: 0x43, json: 0x4a };
const BYTE_OP = new Map<number, RequestOp>(Object.entries(OP_BYTE).map(([op, b]) => [b, op as RequestOp]));
const OK = 0x4f;
const ERR = 0x45;
/** The helper refuses larger requests (MAX_REQUEST in nft-helper.c). */
export const MAX_PAYLOAD = 2 ** 30;

function frame(tag: number, text: string): Buffer {
  const body = Buffer.from(text, "utf8");
  if (body.length > MAX_PAYLOAD) throw new RangeError(`nft-helper frame: payload of ${body.length} bytes`);
  const head = Buffer.allocUnsafe(5);
  head[0] = tag;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

export function encodeRequest(r: Request): Buffer {
  return frame(OP_BYTE[r.op], r.payload);
}

export function encodeReply(r: Reply): Buffer {
  return frame(r.ok ? OK : ERR, r.text);
}

/** Splits a byte stream into (tag, body) frames. */
class Deframer {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): { tag: number; body: Buffer }[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: { tag: number; body: Buffer }[] = [];
    for (;;) {
      if (this.buffered < 5) break;
      // Joins chunks only once the whole frame is there: a large reply arriving in many chunks is
      // copied once, not once per chunk.
      if (this.chunks[0]!.length < 5) this.chunks = [Buffer.concat(this.chunks)];
      const n = this.chunks[0]!.readUInt32BE(1);
      if (this.buffered < 5 + n) break;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      out.push({ tag: all[0]!, body: all.subarray(5, 5 + n) });
      const rest = all.subarray(5 + n);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return out;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get pending(): number {
    return this.buffered;
  }
}

export class ReplyDecoder {
  private readonly d = new Deframer();
  push(chunk: Buffer): Reply[] {
    return this.d.push(chunk).map(({ tag, body }) => {
      if (tag !== OK && tag !== ERR) throw new FrameError("unknown reply status", tag);
      return { ok: tag === OK, text: body.toString("utf8") };
    });
  }
  get pending(): number {
    return this.d.pending;
  }
}

export class RequestDecoder {
  private readonly d = new Deframer();
  push(chunk: Buffer): Request[] {
    return this.d.push(chunk).map(({ tag, body }) => {
      const op = BYTE_OP.get(tag);
      if (!op) throw new FrameError("unknown request op", tag);
      return { op, payload: body.toString("utf8") };
    });
  }
}
