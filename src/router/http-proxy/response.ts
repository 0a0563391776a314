// A small, strict, incremental HTTP/1.1 response parser for the proxy's origin connections:
// status line, header fields, and the body framing (Content-Length, chunked, close-delimited,
// none for HEAD/1xx/204/304). It exists so that a proxied GET does not cost a ClientRequest, an
// Agent slot and an IncomingMessage (about 31 KB of garbage per request with node:http).
// Anything another parser could frame differently is refused with a ResponseFramingError:
// Content-Length together with Transfer-Encoding, differing Content-Length values, any
// transfer coding other than a lone "chunked", invalid chunk sizes or chunk line ends, header
// lines without a colon or with white space before it, obs-fold, bare LF, control characters,
// oversize heads and trailers, a 101 (the proxy never asks for an upgrade), data after the end
// of the message. Trailer fields are checked like header fields and then dropped.
// Pure: no I/O. Body bytes are handed out as views of the caller's input chunks.

/** How the body of a response is delimited (RFC 9112 §6.3). */
export type Framing =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

export interface ResponseHead {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  status: number;
  reason: string;
  /** Field lines as [name, value, name, value, ...], values without surrounding white space. */
  rawHeaders: string[];
  /** The single Content-Length value, when the response carried a valid one. */
  contentLength: number | undefined;
  framing: Framing;
  /** The origin allows another request on this connection (version and Connection header). */
  keepAlive: boolean;
}

export interface ResponseSink {
  /** The final (non-1xx) response head. Interim 1xx responses are consumed silently. */
  onHead(head: ResponseHead): void;
  /** Body bytes: a view of the input chunk, valid as long as that chunk is. */
  onBody(chunk: Buffer): void;
  /** The message is complete. */
  onComplete(): void;
}

export class ResponseFramingError extends Error {
  constructor(
    readonly detail: string,
    readonly value: string,
  ) {
    super(`bad response from origin: ${detail}: ${JSON.stringify(value.slice(0, 80))}`);
    this.name = "ResponseFramingError";
  }
}

/** Largest response head (status line and fields) and, separately, trailer section accepted;
 *  squid's reply_header_max_size default. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** Interim (1xx) responses accepted before the final one; an origin that sends more is refused. */
export const MAX_INTERIM_RESPONSES = 16;

const CR = 13;
const LF = 10;
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");

// RFC 9110 token characters, for field names.
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
// Field values, reason phrases and chunk extensions: HTAB, SP, VCHAR, obs-text.
const BAD_TEXT = /[^\t\x20-\x7e\x80-\xff]/;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

enum State {
  Head,
  Length,
  ChunkSize,
  ChunkExt,
  ChunkSizeLF,
  ChunkData,
  ChunkDataCR,
  ChunkDataLF,
  Trailer,
  Close,
  Done,
}

function isOWS(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Parses one field line ("name: value"); pushes name and value onto `out`. */
function parseField(line: string, out: string[]): void {
  if (line.length > 0 && isOWS(line.charCodeAt(0))) throw new ResponseFramingError("obs-fold", line);
  const colon = line.indexOf(":");
  if (colon < 0) throw new ResponseFramingError("field line without a colon", line);
  if (colon === 0) throw new ResponseFramingError("empty field name", line);
  for (let i = 0; i < colon; i++) {
    if (TOKEN[line.charCodeAt(i)] !== 1) {
      throw new ResponseFramingError(
        "invalid character in field name (or white space before the colon)",
        line,
      );
    }
  }
  let s = colon + 1;
  let e = line.length;
  while (s < e && isOWS(line.charCodeAt(s))) s++;
  while (e > s && isOWS(line.charCodeAt(e - 1))) e--;
  const value = line.slice(s, e);
  if (BAD_TEXT.test(value)) throw new ResponseFramingError("invalid character in field value", line);
  out.push(line.slice(0, colon), value);
}

const BARE_CR_OR_LF = /\r(?!\n)|(?<!\r)\n/;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** "HTTP/1.x NNN[ reason]": the minor version and the status, or undefined. */
function statusLineParts(line: string): { minor: 0 | 1; status: number } | undefined {
  if (line.length < 12 || !line.startsWith("HTTP/1.") || line.charCodeAt(8) !== 0x20) return undefined;
  const v = line.charCodeAt(7);
  if (v !== 0x30 && v !== 0x31) return undefined;
  const a = line.charCodeAt(9);
  const b = line.charCodeAt(10);
  const c = line.charCodeAt(11);
  if (a < 0x31 || a > 0x39 || !isDigit(b) || !isDigit(c)) return undefined;
  if (line.length > 12 && line.charCodeAt(12) !== 0x20) return undefined;
  return { minor: v === 0x31 ? 1 : 0, status: (a - 0x30) * 100 + (b - 0x30) * 10 + (c - 0x30) };
}

function hasToken(value: string, token: string): boolean {
  for (const t of value.split(",")) if (t.trim().toLowerCase() === token) return true;
  return false;
}

/** Reads the status line and fields of one response head and decides its framing. */
export function parseHead(text: string, isHeadRequest: boolean): ResponseHead {
  const bare = BARE_CR_OR_LF.exec(text);
  if (bare)
    throw new ResponseFramingError(
      "bare CR or LF in head",
      text.slice(Math.max(0, bare.index - 40), bare.index + 2),
    );
  let eol = text.indexOf("\r\n");
  const statusLine = eol < 0 ? text : text.slice(0, eol);
  const parts = statusLineParts(statusLine);
  if (parts === undefined) throw new ResponseFramingError("invalid status line", statusLine);
  const { minor, status } = parts;
  const reason = statusLine.length > 12 ? statusLine.slice(13) : "";
  if (BAD_TEXT.test(reason)) throw new ResponseFramingError("invalid character in reason phrase", statusLine);
  const rawHeaders: string[] = [];
  while (eol >= 0) {
    const start = eol + 2;
    eol = text.indexOf("\r\n", start);
    parseField(eol < 0 ? text.slice(start) : text.slice(start, eol), rawHeaders);
  }

  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  let connection = "";
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (name === "content-length") {
      // Repeated identical values ("5, 5" or two fields) are one length (RFC 9110 §8.6);
      // differing ones are refused.
      for (const part of value.split(",")) {
        const p = part.trim();
        if (!/^\d{1,15}$/.test(p)) throw new ResponseFramingError("invalid Content-Length", value);
        const n = Number(p);
        if (contentLength !== undefined && contentLength !== n) {
          throw new ResponseFramingError("differing Content-Length values", `${contentLength}, ${n}`);
        }
        contentLength = n;
      }
    } else if (name === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
    } else if (name === "connection") {
      connection = connection === "" ? value : `${connection}, ${value}`;
    }
  }
  if (transferEncoding !== undefined && contentLength !== undefined) {
    throw new ResponseFramingError("both Transfer-Encoding and Content-Length", transferEncoding);
  }
  if (transferEncoding !== undefined && transferEncoding.trim().toLowerCase() !== "chunked") {
    // Other codings ("gzip, chunked") would be lost when the hop-by-hop field is dropped, and
    // anything not ending in chunked is close-delimited only in theory.
    throw new ResponseFramingError("unsupported Transfer-Encoding", transferEncoding);
  }
  if (transferEncoding !== undefined && minor === 0) {
    throw new ResponseFramingError("Transfer-Encoding in an HTTP/1.0 response", transferEncoding);
  }
  if (status === 101) throw new ResponseFramingError("unrequested protocol switch", statusLine);

  let framing: Framing;
  if (isHeadRequest || status < 200 || status === 204 || status === 304) framing = { kind: "none" };
  else if (transferEncoding !== undefined) framing = { kind: "chunked" };
  else if (contentLength !== undefined) framing = { kind: "length", length: contentLength };
  else framing = { kind: "close" };
  const keepAlive =
    framing.kind !== "close" &&
    (minor === 1 ? !hasToken(connection, "close") : hasToken(connection, "keep-alive"));
  return { minor, status, reason, rawHeaders, contentLength, framing, keepAlive };
}

/** One parser per origin connection, `reset` before each response. */
export class ResponseParser {
  private state: State = State.Done;
  private isHeadRequest = false;
  /** Head bytes seen so far when a head spans reads (the common case needs no copy). */
  private pending: Buffer | undefined;
  private remaining = 0;
  private chunkDigits = 0;
  private trailerLine = "";
  private trailerBytes = 0;
  private trailerFields: string[] = [];
  private interim = 0;
  /** Bytes of the current response seen so far (0: the origin has sent nothing yet). */
  received = 0;

  /** Prepares for the response to a request; `isHeadRequest` for HEAD (no body ever). */
  reset(isHeadRequest: boolean): void {
    this.state = State.Head;
    this.isHeadRequest = isHeadRequest;
    this.pending = undefined;
    this.received = 0;
    this.interim = 0;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /** Whether end of input now would complete the message (a close-delimited body). */
  get endsAtClose(): boolean {
    return this.state === State.Close;
  }

  /** Consumes `chunk`. Bytes after a complete message are an error (the proxy never pipelines,
   *  so they can only be a framing disagreement). Throws ResponseFramingError. */
  execute(chunk: Buffer, sink: ResponseSink): void {
    this.received += chunk.length;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.state) {
        case State.Head:
          i = this.head(chunk, i, sink);
          break;
        case State.Length: {
          const take = Math.min(this.remaining, n - i);
          sink.onBody(i === 0 && take === n ? chunk : chunk.subarray(i, i + take));
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.complete(sink);
          break;
        }
        case State.Close:
          sink.onBody(i === 0 ? chunk : chunk.subarray(i));
          i = n;
          break;
        case State.ChunkSize: {
          const c = chunk[i]!;
          const d = HEX[c]!;
          if (d >= 0) {
            if (++this.chunkDigits > 13) throw new ResponseFramingError("chunk size too large", "");
            this.remaining = this.remaining * 16 + d;
          } else if (this.chunkDigits === 0) {
            throw new ResponseFramingError("invalid chunk size", String.fromCharCode(c));
          } else if (c === CR) this.state = State.ChunkSizeLF;
          else if (c === 0x3b)
            this.state = State.ChunkExt; // ';'
          else throw new ResponseFramingError("invalid character after chunk size", String.fromCharCode(c));
          i++;
          break;
        }
        case State.ChunkExt: {
          // Extensions are skipped; only their characters are checked (no bare LF, no CTLs).
          const c = chunk[i]!;
          if (c === CR) this.state = State.ChunkSizeLF;
          else if (c !== 0x09 && (c < 0x20 || c === 0x7f))
            throw new ResponseFramingError("invalid character in chunk extension", String.fromCharCode(c));
          i++;
          break;
        }
        case State.ChunkSizeLF:
          if (chunk[i] !== LF) throw new ResponseFramingError("chunk size line not ended by CRLF", "");
          i++;
          if (this.remaining === 0) {
            this.state = State.Trailer;
            this.trailerLine = "";
            this.trailerBytes = 0;
            this.trailerFields.length = 0;
          } else this.state = State.ChunkData;
          break;
        case State.ChunkData: {
          const take = Math.min(this.remaining, n - i);
          sink.onBody(chunk.subarray(i, i + take));
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.ChunkDataCR;
          break;
        }
        case State.ChunkDataCR:
          if (chunk[i] !== CR) throw new ResponseFramingError("chunk data not followed by CRLF", "");
          this.state = State.ChunkDataLF;
          i++;
          break;
        case State.ChunkDataLF:
          if (chunk[i] !== LF) throw new ResponseFramingError("chunk data not followed by CRLF", "");
          this.startChunk();
          i++;
          break;
        case State.Trailer:
          i = this.trailer(chunk, i, sink);
          break;
        case State.Done:
          throw new ResponseFramingError(
            "data after the end of the response",
            chunk.toString("latin1", i, i + 40),
          );
      }
    }
  }

  /** The origin closed its side. Completes a close-delimited body; anything else unfinished
   *  is a truncated response. */
  finish(sink: ResponseSink): void {
    if (this.state === State.Close) {
      this.complete(sink);
      return;
    }
    if (this.state !== State.Done) throw new ResponseFramingError("connection closed mid-response", "");
  }

  private startChunk(): void {
    this.state = State.ChunkSize;
    this.remaining = 0;
    this.chunkDigits = 0;
  }

  private complete(sink: ResponseSink): void {
    this.state = State.Done;
    sink.onComplete();
  }

  private head(chunk: Buffer, from: number, sink: ResponseSink): number {
    let buf: Buffer;
    let start: number;
    let searchFrom: number;
    if (this.pending === undefined) {
      buf = chunk;
      start = from;
      searchFrom = from;
    } else {
      const old = this.pending.length;
      buf = Buffer.concat([this.pending, chunk.subarray(from)]);
      start = 0;
      searchFrom = Math.max(0, old - 3);
    }
    const end = buf.indexOf(HEAD_END, searchFrom);
    if (end < 0) {
      if (buf.length - start > MAX_HEAD_BYTES) throw new ResponseFramingError("response head too large", "");
      this.pending = start === 0 && buf !== chunk ? buf : Buffer.from(buf.subarray(start));
      return chunk.length;
    }
    if (end - start > MAX_HEAD_BYTES) throw new ResponseFramingError("response head too large", "");
    // Where the head ends in `chunk` (the pending prefix is `buf.length - (chunk.length - from)`).
    const consumedInChunk = end + 4 - (buf.length - (chunk.length - from)) + from;
    this.pending = undefined;
    const head = parseHead(buf.toString("latin1", start, end), this.isHeadRequest);
    if (head.status < 200) {
      // Interim response (100 Continue, 103 Early Hints): the final one follows.
      if (++this.interim > MAX_INTERIM_RESPONSES)
        throw new ResponseFramingError("too many 1xx responses", "");
      return consumedInChunk;
    }
    sink.onHead(head);
    switch (head.framing.kind) {
      case "none":
        this.complete(sink);
        break;
      case "length":
        this.remaining = head.framing.length;
        if (this.remaining === 0) this.complete(sink);
        else this.state = State.Length;
        break;
      case "chunked":
        this.startChunk();
        break;
      case "close":
        this.state = State.Close;
        break;
    }
    return consumedInChunk;
  }

  private trailer(chunk: Buffer, from: number, sink: ResponseSink): number {
    const lf = chunk.indexOf(LF, from);
    const stop = lf < 0 ? chunk.length : lf + 1;
    this.trailerBytes += stop - from;
    if (this.trailerBytes > MAX_HEAD_BYTES) throw new ResponseFramingError("trailer section too large", "");
    this.trailerLine += chunk.toString("latin1", from, stop);
    if (lf < 0) return stop;
    const line = this.trailerLine;
    this.trailerLine = "";
    if (line.length < 2 || line.charCodeAt(line.length - 2) !== CR)
      throw new ResponseFramingError("bare LF in trailer section", line);
    const text = line.slice(0, -2);
    if (text.includes("\r")) throw new ResponseFramingError("bare CR in trailer section", text);
    if (text === "") this.complete(sink);
    else parseField(text, this.trailerFields); // checked, then dropped
    return stop;
  }
}
