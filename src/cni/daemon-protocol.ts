// The wire format between the per-call whereabouts shim (src/cni/shim/whereabouts-shim.c) and the
// resident IPAM daemon (src/ipam/daemon.ts), over a unix stream socket, one call per connection:
//
//   request:  "WBQ1\n" { "KEY=VALUE\0" }* "\0" <stdin length, decimal> "\n" <stdin bytes>
//   response: "WBR1 <exit code> <stdout length>\n" <stdout bytes>
//
// Both sides know when a frame is complete from the lengths, so a peer that dies mid-frame is told
// apart from a finished one (the shim then reports CNI error 11 instead of half a result). Pure: no
// sockets here; the decoders take the bytes received so far.

export const REQUEST_MAGIC = "WBQ1\n";
export const RESPONSE_MAGIC = "WBR1 ";
/** Bounds that keep a confused or hostile peer from making the daemon buffer without end. */
export const MAX_ENV_BYTES = 1 << 20;
export const MAX_STDIN_BYTES = 16 << 20;
export const MAX_STDOUT_BYTES = 16 << 20;

/** Environment variables the shim forwards (and the daemon honours): what the plugin reads. */
export function isForwardedEnv(name: string): boolean {
  return (
    name.startsWith("CNI_") ||
    name.startsWith("WHEREABOUTS_") ||
    name === "KUBECONFIG" ||
    name === "KUBERNETES_SERVICE_HOST" ||
    name === "KUBERNETES_SERVICE_PORT"
  );
}

export interface DaemonRequest {
  env: Record<string, string>;
  stdin: Buffer;
}

export interface DaemonResponse {
  exitCode: number;
  stdout: Buffer;
}

/** A frame that cannot be decoded; names what and where. */
export class ProtocolError extends Error {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`whereabouts daemon protocol: ${where}: ${detail}`);
    this.name = "ProtocolError";
  }
}

export function encodeRequest(req: DaemonRequest): Buffer {
  const parts: Buffer[] = [Buffer.from(REQUEST_MAGIC)];
  for (const [k, v] of Object.entries(req.env)) {
    if (k === "" || k.includes("=") || k.includes("\0") || v.includes("\0"))
      throw new ProtocolError("request env", `variable ${JSON.stringify(k)} cannot be encoded`);
    parts.push(Buffer.from(`${k}=${v}\0`));
  }
  parts.push(Buffer.from(`\0${req.stdin.length}\n`), req.stdin);
  return Buffer.concat(parts);
}

/** Decodes a request from the bytes received so far: undefined while incomplete. */
export function decodeRequest(buf: Buffer): DaemonRequest | undefined {
  const magic = Buffer.from(REQUEST_MAGIC);
  const head = buf.subarray(0, magic.length);
  if (!magic.subarray(0, head.length).equals(head))
    throw new ProtocolError("request", `does not start with ${JSON.stringify(REQUEST_MAGIC)}`);
  if (buf.length < magic.length) return undefined;
  const env: Record<string, string> = {};
  let at = magic.length;
  for (;;) {
    const nul = buf.indexOf(0, at);
    if (nul < 0) {
      if (buf.length - magic.length > MAX_ENV_BYTES)
        throw new ProtocolError("request env", `longer than ${MAX_ENV_BYTES} bytes`);
      return undefined;
    }
    if (nul === at) {
      at = nul + 1;
      break;
    }
    const entry = buf.subarray(at, nul).toString("utf8");
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new ProtocolError("request env", `entry ${JSON.stringify(entry)} is not KEY=VALUE`);
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
    at = nul + 1;
  }
  const nl = buf.indexOf(10, at);
  if (nl < 0) {
    if (buf.length - at > 20) throw new ProtocolError("request", "stdin length line is too long");
    return undefined;
  }
  const lenText = buf.subarray(at, nl).toString("latin1");
  if (!/^\d{1,12}$/.test(lenText))
    throw new ProtocolError("request", `stdin length ${JSON.stringify(lenText)} is not a number`);
  const len = Number(lenText);
  if (len > MAX_STDIN_BYTES) throw new ProtocolError("request", `stdin of ${len} bytes is too large`);
  const end = nl + 1 + len;
  if (buf.length < end) return undefined;
  if (buf.length > end) throw new ProtocolError("request", `${buf.length - end} bytes after the frame`);
  return { env, stdin: Buffer.from(buf.subarray(nl + 1, end)) };
}

export function encodeResponse(res: DaemonResponse): Buffer {
  return Buffer.concat([Buffer.from(`${RESPONSE_MAGIC}${res.exitCode} ${res.stdout.length}\n`), res.stdout]);
}

/** Decodes a response from the bytes received so far: undefined while incomplete. */
export function decodeResponse(buf: Buffer): DaemonResponse | undefined {
  const nl = buf.indexOf(10);
  if (nl < 0) {
    if (buf.length > 40) throw new ProtocolError("response", "header line is too long");
    return undefined;
  }
  const m = /^WBR1 (\d{1,3}) (\d{1,12})$/.exec(buf.subarray(0, nl).toString("latin1"));
  if (!m) throw new ProtocolError("response", `bad header ${JSON.stringify(buf.subarray(0, nl).toString())}`);
  const len = Number(m[2]);
  if (len > MAX_STDOUT_BYTES) throw new ProtocolError("response", `stdout of ${len} bytes is too large`);
  const end = nl + 1 + len;
  if (buf.length < end) return undefined;
  if (buf.length > end) throw new ProtocolError("response", `${buf.length - end} bytes after the frame`);
  return { exitCode: Number(m[1]), stdout: Buffer.from(buf.subarray(nl + 1, end)) };
}
