// The egress router's DNS proxy mode (upstream: haproxy in TCP mode): one TCP listener per
// EGRESS_DNS_PROXY_DESTINATION line, forwarding each connection to the target's current address
// (names re-resolved per TTL by cache.ts). Network I/O lives here; decisions do not.

import { Resolver } from "node:dns/promises";
import net from "node:net";
import type { DnsProxyTarget } from "../config/proxy.js";
import { type CacheOptions, TargetAddresses, type TtlResolver } from "./cache.js";

export const systemTtlResolver: TtlResolver = {
  async resolve4(name) {
    return new Resolver().resolve4(name, { ttl: true });
  },
};

/** Asks the given name servers instead of the system's (`--dns-server`). */
export function serverTtlResolver(servers: readonly string[]): TtlResolver {
  const r = new Resolver({ timeout: 2000, tries: 2 });
  r.setServers([...servers]);
  return { resolve4: (name) => r.resolve4(name, { ttl: true }) };
}

export interface DnsProxyOptions {
  proxies: readonly DnsProxyTarget[];
  resolver?: TtlResolver;
  host?: string;
  /** Maps a configured port to the port actually bound (tests bind 0). Default: identity. */
  bindPort?: (configured: number) => number;
  connectTimeoutMs?: number;
  /** TCP keepalive on both sides of every connection, first probe after this long without
   *  traffic (0: off). Default 60 s. A peer that vanished without a FIN or reset (its node lost
   *  power) is then noticed and both sockets are closed, instead of being held for good; a quiet
   *  connection whose peers are alive is never cut. */
  keepAliveMs?: number;
  cache?: CacheOptions;
  onEvent?: (e: {
    kind: "connect" | "error";
    port: number;
    target: string;
    address?: string;
    reason?: string;
  }) => void;
}

/** First keepalive probe after this long without traffic (the kernel's interval and count follow). */
export const DEFAULT_KEEPALIVE_MS = 60_000;

export interface RunningDnsProxy {
  /** Configured port → bound port. */
  ports: Map<number, number>;
  caches: Map<number, TargetAddresses>;
  close(): Promise<void>;
}

function connectFirst(addresses: readonly string[], port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let i = 0;
    let lastError: Error = new Error("no address");
    const next = (): void => {
      const a = addresses[i++];
      if (a === undefined) {
        reject(lastError);
        return;
      }
      const s = net.connect({ host: a, port, family: 4 });
      const timer = setTimeout(() => s.destroy(new Error("connect timeout")), timeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        resolve(s);
      });
      s.once("error", (e) => {
        clearTimeout(timer);
        lastError = e;
        next();
      });
    };
    next();
  });
}

export async function startDnsProxy(opts: DnsProxyOptions): Promise<RunningDnsProxy> {
  const resolver = opts.resolver ?? systemTtlResolver;
  const timeout = opts.connectTimeoutMs ?? 10_000;
  const keepAliveMs = opts.keepAliveMs ?? DEFAULT_KEEPALIVE_MS;
  const emit = opts.onEvent ?? (() => {});
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const ports = new Map<number, number>();
  const caches = new Map<number, TargetAddresses>();
  const closeAll = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
  };
  try {
    for (const p of opts.proxies) {
      const cache = new TargetAddresses(p.target, p.isName, resolver, opts.cache);
      caches.set(p.port, cache);
      const server = net.createServer({ pauseOnConnect: true }, (client) => {
        sockets.add(client);
        client.on("close", () => sockets.delete(client));
        client.on("error", () => client.destroy());
        cache
          .current()
          .then((addrs) => connectFirst(addrs, p.targetPort, timeout))
          .then((up) => {
            if (client.destroyed) return up.destroy();
            sockets.add(up);
            if (keepAliveMs > 0) {
              up.setKeepAlive(true, keepAliveMs);
              client.setKeepAlive(true, keepAliveMs);
            }
            emit({ kind: "connect", port: p.port, target: p.target, address: up.remoteAddress ?? "" });
            up.on("close", () => {
              sockets.delete(up);
              client.destroy();
            });
            up.on("error", () => up.destroy());
            client.on("close", () => up.destroy());
            up.pipe(client);
            client.pipe(up);
            client.resume();
          })
          .catch((e: unknown) => {
            emit({ kind: "error", port: p.port, target: p.target, reason: (e as Error).message });
            client.destroy();
          });
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.bindPort ? opts.bindPort(p.port) : p.port, opts.host ?? "0.0.0.0", () => {
          server.off("error", reject);
          resolve();
        });
      });
      ports.set(p.port, (server.address() as net.AddressInfo).port);
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  return { ports, caches, close: closeAll };
}
