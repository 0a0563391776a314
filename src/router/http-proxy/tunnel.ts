// The byte copy of a CONNECT tunnel: the origin's socket is read into one buffer that belongs to
// the tunnel (net's `onread`), instead of the fresh 64 KiB buffer per read that a stream's 'data'
// event allocates, and written to the client without `pipe()`'s event machinery. The buffer is
// reused only once the write that refers to it has finished: a write that the kernel does not take
// at once stops reading until the client's socket drains. A buffer goes to a later tunnel only
// after both sockets of its tunnel have closed. This module does no policy: it copies bytes
// between two sockets the proxy has already authorized, and must never open a connection.

import net from "node:net";
import type { Duplex } from "node:stream";

/** Size of each tunnel's read buffer. On loopback a readiness event finds about 93 KiB queued
 *  (64 KiB + 29 KiB reads with a 64 KiB buffer, seen with strace); 128 KiB takes that in one
 *  read and one write, which cut CPU per MiB by about 13 % in A/B runs. Squid holds two 64 KiB
 *  buffers per tunnel, so the memory per tunnel is the same as squid's. */
export const TUNNEL_BUFFER_SIZE = 128 * 1024;

/** An origin connection whose reads land in a buffer owned by the tunnel. Until `attach` is
 *  called (the CONNECT answer has not been sent yet), data from a server that speaks first is
 *  copied aside and delivered in order on attach. */
export interface OriginSocket {
  socket: net.Socket;
  /** The address connected to, as text (saves a getpeername per tunnel). */
  address: string;
  /** Sends `established` to the client, then starts the origin → client copy. */
  attach(client: Duplex, established: string): void;
}

/** Read buffers of tunnels that have ended, for reuse. A fresh 128 KiB buffer per tunnel is
 *  memory outside V8's heap that only a GC frees: at a few thousand short tunnels per second V8
 *  answered that "external memory pressure" with a scavenge every 50 ms and several full
 *  mark-compacts per second (18 ms each), and each tunnel touched 128 KiB of cold memory. */
const freeBuffers: Buffer[] = [];
/** Buffers kept for reuse at most (4 MiB); a burst of more tunnels allocates, as before. */
export const FREE_BUFFERS_MAX = 32;

/** How many tunnel buffers are waiting for reuse (tests). */
export function freeBufferCount(): number {
  return freeBuffers.length;
}

export function connectOrigin(options: { host: string; port: number; family: 4 | 6 }): OriginSocket {
  const buffer = freeBuffers.pop() ?? Buffer.allocUnsafeSlow(TUNNEL_BUFFER_SIZE);
  let client: Duplex | undefined;
  const early: Buffer[] = [];
  let waiting = false;
  const socket = net.connect({
    ...options,
    onread: {
      buffer,
      callback: (n: number, buf: Uint8Array): boolean => {
        if (!client) {
          early.push(Buffer.from(buf.subarray(0, n))); // copied: the buffer is reused
          return true;
        }
        if (client.destroyed) return false;
        client.write(buf.subarray(0, n), written);
        // A write the kernel took at once has released the buffer (its bookkeeping is done
        // synchronously); otherwise the pending write still points into the buffer, so reading
        // stops until every write to the client has finished.
        if (client.writableLength === 0) return true;
        waiting = true;
        return false;
      },
    },
  });
  // Called after each write to the client. Writes finish in order, so when nothing is left
  // queued the last one, the only one that can refer to the buffer, is done too. ('drain' is
  // not enough: it is only emitted after a write that went over the high-water mark.)
  function written(): void {
    if (!waiting || client === undefined || client.writableLength !== 0) return;
    waiting = false;
    if (!socket.destroyed) socket.resume();
  }
  // The buffer goes back for reuse only when nothing can touch it any more: the origin's socket
  // is closed (no read into it) and so is the client's (every write that pointed into it has
  // finished or was dropped).
  let closes = 1;
  let released = false;
  const closed = (): void => {
    if (--closes > 0 || released) return;
    released = true;
    if (freeBuffers.length < FREE_BUFFERS_MAX) freeBuffers.push(buffer);
  };
  socket.once("close", closed);
  return {
    socket,
    address: options.host,
    attach(c: Duplex, established: string): void {
      client = c;
      if (!released) {
        closes++;
        c.once("close", closed);
      }
      c.write(established, written);
      for (const chunk of early) c.write(chunk, written);
      early.length = 0;
      if (c.writableLength > 0) {
        waiting = true;
        socket.pause();
      }
    },
  };
}

/** Joins an authorized client and origin: bytes both ways, an EOF passed on as a half close,
 *  and an error or close on either side tearing down the other. `established` is the answer to
 *  the CONNECT, sent before any byte from the origin. */
export function joinTunnel(client: Duplex, origin: OriginSocket, head: Buffer, established: string): void {
  const upstream = origin.socket;
  upstream.setNoDelay(true);
  origin.attach(client, established);
  if (head.length > 0) upstream.write(head);
  // Client → origin carries requests, usually small: plain 'data' with back-pressure.
  client.on("data", (chunk: Buffer) => {
    if (!upstream.write(chunk)) client.pause();
  });
  upstream.on("drain", () => client.resume());
  client.on("end", () => upstream.end());
  // The origin's EOF ends the tunnel both ways: its socket then ends our side too (allowHalfOpen
  // is off), so nothing the client still sends could reach it. When every byte for the client has
  // been handed to the kernel, closing the client's socket now sends its FIN at once, behind those
  // bytes; end() would wait for libuv's shutdown, which runs a loop turn later (the close phase in
  // docs/benchmarks.md). Bytes still queued in Node: end() after them.
  upstream.on("end", () => {
    if (client.writableLength === 0) client.destroy();
    else client.end();
  });
  // When the origin is gone, the client gets the bytes still queued for it and is then closed
  // (a client may keep its half of the connection open forever); an origin that failed drops it.
  upstream.on("close", (hadError: boolean) => {
    // (end() on a finished stream would build an ERR_STREAM_ALREADY_FINISHED error per tunnel.)
    if (hadError || client.writableFinished || client.destroyed) client.destroy();
    else client.end(() => client.destroy());
  });
  upstream.on("error", () => upstream.destroy());
  client.on("close", () => upstream.destroy());
}
