// Client for echo-server.ts: opens <count> sequential TCP connections to <host>:<port> and prints
// {"seen":{"<source ip>":n},"failures":n} on stdout. Each attempt times out after <timeoutMs>.
// Run inside a pod namespace: node echo-client.js <host> <port> <count> <timeoutMs>
import { connect } from "node:net";

const [host = "", portText = "0", countText = "1", timeoutText = "2000"] = process.argv.slice(2);

function once(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host, port: Number(portText) });
    let data = "";
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(undefined);
    }, Number(timeoutText));
    sock.on("data", (b: Buffer) => {
      data += b.toString("utf8");
    });
    sock.on("error", () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(data.trim() || undefined);
    });
  });
}

const seen: Record<string, number> = {};
let failures = 0;
for (let i = 0; i < Number(countText); i++) {
  const ip = await once();
  if (ip === undefined) failures++;
  else seen[ip] = (seen[ip] ?? 0) + 1;
}
process.stdout.write(`${JSON.stringify({ seen, failures })}\n`);
