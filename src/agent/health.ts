// The agent's health endpoint: `GET /healthz` answers 200 while the agent runs. The controllers'
// reachability probe calls it over the node's underlay address, so a node cut off the network or
// an agent that died fails the probe (docs/egressip.md describes the probe's timing).
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export async function startHealthServer(
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url === "/healthz" || req.url === "/readyz" || req.url === "/livez") {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("ok");
      return;
    }
    res.writeHead(404);
    res.end();
  });
  server.keepAliveTimeout = 5_000;
  server.listen(port, host);
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
