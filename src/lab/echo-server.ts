// The lab's echo server: tells each client the source address it arrived from, so tests see what
// SNAT did to a flow. Runs inside an external host's namespace:
//   node echo-server.js --tcp 7000 --udp 7001 --http 8080   (each flag repeatable)
// TCP: on connect the server writes one line `<srcIP>:<srcPort>\n`, then echoes every byte it
//      receives until the client closes (long-lived flows for failover probes).
// UDP: each datagram gets one reply: `<srcIP>:<srcPort>\n` followed by the datagram's payload.
// HTTP: any request gets 200 with the body `<srcIP>:<srcPort>\n` (header X-Echo-Source too).
// It listens on every address of its namespace and must not do anything else.
import { createSocket } from "node:dgram";
import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import { pathToFileURL } from "node:url";

export interface EchoServerOptions {
  tcp: number[];
  udp: number[];
  http: number[];
  host?: string;
}

export interface RunningEcho {
  /** Bound ports (useful when asked for port 0). */
  tcp: number[];
  udp: number[];
  http: number[];
  close(): Promise<void>;
}

/** Strips the IPv4-mapped prefix node reports on dual-stack sockets. */
export function sourceText(address: string | undefined, port: number | undefined): string {
  const a = (address ?? "?").replace(/^::ffff:/, "");
  return `${a}:${port ?? 0}`;
}

export async function startEchoServer(o: EchoServerOptions): Promise<RunningEcho> {
  const host = o.host ?? "0.0.0.0";
  const closers: (() => Promise<void>)[] = [];
  const listen = (srv: Server | ReturnType<typeof createHttpServer>, port: number) =>
    new Promise<number>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(port, host, () => {
        const a = srv.address();
        resolve(typeof a === "object" && a ? a.port : port);
      });
      closers.push(() => new Promise((r) => srv.close(() => r())));
    });
  const tcp: number[] = [];
  for (const p of o.tcp) {
    const srv = createTcpServer((sock) => {
      sock.on("error", () => undefined);
      sock.write(`${sourceText(sock.remoteAddress, sock.remotePort)}\n`);
      sock.pipe(sock);
    });
    tcp.push(await listen(srv, p));
  }
  const http: number[] = [];
  for (const p of o.http) {
    const srv = createHttpServer((req, res) => {
      const src = sourceText(req.socket.remoteAddress, req.socket.remotePort);
      req.resume();
      res.writeHead(200, { "Content-Type": "text/plain", "X-Echo-Source": src });
      res.end(`${src}\n`);
    });
    srv.keepAliveTimeout = 1000;
    http.push(await listen(srv, p));
  }
  const udp: number[] = [];
  for (const p of o.udp) {
    // A reply from a wildcard socket leaves with the address the route picks, not the one the
    // request was sent to: on a host with several addresses (the lab's `web`) a client behind NAT
    // would drop it. So a fixed port on the wildcard gets one socket per local address instead.
    const hosts = host === "0.0.0.0" && p !== 0 ? localIPv4() : [host];
    for (const h of hosts) {
      const sock = createSocket("udp4");
      sock.on("message", (msg, rinfo) => {
        const head = Buffer.from(`${sourceText(rinfo.address, rinfo.port)}\n`);
        sock.send(Buffer.concat([head, msg]), rinfo.port, rinfo.address);
      });
      await new Promise<void>((resolve, reject) => {
        sock.once("error", reject);
        sock.bind(p, h, () => resolve());
      });
      closers.push(() => new Promise((r) => sock.close(() => r())));
      if (h === hosts[0]) udp.push(sock.address().port);
    }
  }
  return {
    tcp,
    udp,
    http,
    close: async () => {
      await Promise.all(closers.map((c) => c()));
    },
  };
}

/** Every IPv4 address of this network namespace (loopback included). */
function localIPv4(): string[] {
  const out = Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .filter((a) => a.family === "IPv4")
    .map((a) => a.address);
  return out.length > 0 ? [...new Set(out)] : ["0.0.0.0"];
}

function parseArgs(argv: string[]): EchoServerOptions {
  const o: EchoServerOptions = { tcp: [], udp: [], http: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const val = Number(argv[i + 1]);
    if (!Number.isInteger(val) || val < 0 || val > 65535)
      throw new Error(`echo-server: ${flag}: expected a port number, got ${JSON.stringify(argv[i + 1])}`);
    if (flag === "--tcp") o.tcp.push(val);
    else if (flag === "--udp") o.udp.push(val);
    else if (flag === "--http") o.http.push(val);
    else throw new Error(`echo-server: unknown flag ${JSON.stringify(flag)} (expected --tcp, --udp, --http)`);
  }
  return o;
}

// Run as a program when started directly (not when imported by tests or the lab).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Handlers first: whoever reads the ready line may signal at once. Exit without waiting for
  // open connections (a probe may hold one forever).
  const stop = () => process.exit(0);
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  const running = await startEchoServer(parseArgs(process.argv.slice(2)));
  process.stdout.write(
    `echo server: tcp ${running.tcp.join(",") || "-"} udp ${running.udp.join(",") || "-"} http ${running.http.join(",") || "-"}\n`,
  );
}
