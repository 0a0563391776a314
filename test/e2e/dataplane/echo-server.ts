// Tiny TCP echo server for dataplane e2e tests: every connection gets the client's source address as
// seen here ("<ip>\n") and is closed. Listens on the given address, port 0 (ephemeral); prints the port
// on stdout once listening. Run inside a test network namespace: node echo-server.js <host>
import { createServer } from "node:net";

const host = process.argv[2] ?? "0.0.0.0";
const server = createServer((sock) => {
  sock.on("error", () => {});
  sock.end(`${(sock.remoteAddress ?? "?").replace(/^::ffff:/, "")}\n`);
});
server.listen(0, host, () => {
  const a = server.address();
  process.stdout.write(`${typeof a === "object" && a ? a.port : 0}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
