// The `egress/echo` image: reports the client's source address. TCP (line `<ip>:<port>\n` sent on
// connect), UDP (the same line as the reply datagram) and HTTP (200 with the same line as body).
// Runs as its own process inside a pod's network namespace; no API access.
import { createSocket } from "node:dgram";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 0 || v > 65535)
    throw new Error(`--${name}: invalid port ${process.argv[i + 1]}`);
  return v;
}

const strip = (a: string | undefined) => (a ?? "").replace(/^::ffff:/, "");

const tcpPort = flag("tcp", 7000);
const udpPort = flag("udp", 7001);
const httpPort = flag("http", 8080);

if (tcpPort) {
  createServer((c) => {
    c.on("error", () => {});
    c.end(`${strip(c.remoteAddress)}:${c.remotePort}\n`);
  }).listen(tcpPort, "0.0.0.0");
}
if (udpPort) {
  const udp = createSocket("udp4");
  udp.on("message", (_msg, rinfo) => udp.send(`${rinfo.address}:${rinfo.port}\n`, rinfo.port, rinfo.address));
  udp.bind(udpPort, "0.0.0.0");
}
if (httpPort) {
  createHttpServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(`${strip(req.socket.remoteAddress)}:${req.socket.remotePort}\n`);
  }).listen(httpPort, "0.0.0.0");
}
