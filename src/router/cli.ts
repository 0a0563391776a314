// `egress router ...` subcommands. A thin shell: reads the environment, calls the pure config
// and rendering modules, prints, and starts the proxies. Contract (other tools depend on it):
//   egress router render [--output json|nft|ip]   print what the router would install; invalid
//                                                 configuration: exit 1, stdout empty, one stderr line
//   egress router http-proxy --check TARGET       print "allow" or "deny" (exit 0); bad config: exit 1
//   egress router http-proxy [--port N]           run the HTTP proxy (default port 8080)
//   egress router dns-proxy                       run the DNS proxy
// Both proxies take `--dns-server IP` (repeatable) to ask those name servers instead of the system's.
import type { Command } from "commander";
import { formatIP } from "../api/ip.js";
import { logger } from "../util/log.js";
import { type Env, parseRouterEnv, type RouterConfig } from "./config/env.js";
import { RouterConfigError } from "./config/errors.js";
import { parseAddress } from "./config/host.js";
import { parseDnsProxyDestination, parseHttpProxyDestination } from "./config/proxy.js";
import { serverTtlResolver, startDnsProxy } from "./dns-proxy/server.js";
import { decideHost, needsAddresses, ruleText } from "./http-proxy/policy.js";
import { type HostResolver, serverResolver, staticResolver, systemResolver } from "./http-proxy/resolver.js";
import { DEFAULT_HTTP_PROXY_PORT, DEFAULT_READ_TIMEOUT_MS, startHttpProxy } from "./http-proxy/server.js";
import { BadTargetError, parseAuthority, parseHost } from "./http-proxy/target.js";
import { networkSetup } from "./redirect/ip.js";
import { DEFAULT_INTERFACES, type RouterInterfaces, renderNftScript } from "./redirect/nft.js";
import { renderJson } from "./redirect/render.js";

export type RenderOutput = "json" | "nft" | "ip";

/** What `egress router render` prints for this environment. Throws RouterConfigError. */
export function renderRouter(
  env: Env,
  output: RenderOutput,
  ifs: RouterInterfaces = DEFAULT_INTERFACES,
): string {
  const config: RouterConfig = parseRouterEnv(env);
  if (output === "json") return `${JSON.stringify(renderJson(config))}\n`;
  if (output === "ip") {
    if (config.source === null || config.gateway === null)
      return `# mode ${config.mode}: no network set-up\n`;
    const plan = networkSetup(
      config.source,
      config.gateway,
      ifs.egress,
      config.mode !== "http-proxy" && config.mode !== "dns-proxy",
    );
    const lines = [
      ...Object.entries(plan.sysctls).map(([k, v]) => `sysctl -w ${k}=${v}`),
      ...plan.ip.map((argv) => argv.join(" ")),
      plan.arping.join(" "),
    ];
    return `${lines.join("\n")}\n`;
  }
  if (config.mode === "http-proxy" || config.mode === "dns-proxy") {
    return `# egress router, mode ${config.mode}: no nftables rules (network set-up only)\n`;
  }
  return renderNftScript(config, ifs);
}

export interface CheckResult {
  verdict: "allow" | "deny";
  reason: string;
}

/** The HTTP proxy's decision for a bare host name or IP (also "[v6]" or "host:port").
 *  Throws RouterConfigError when EGRESS_HTTP_PROXY_DESTINATION is invalid. */
export async function checkHttpProxy(env: Env, target: string, resolver: HostResolver): Promise<CheckResult> {
  const policy = parseHttpProxyDestination(env.EGRESS_HTTP_PROXY_DESTINATION);
  let host: ReturnType<typeof parseHost>;
  try {
    host = /^\[|:\d+$/.test(target) ? parseAuthority(target, 80).host : parseHost(target);
  } catch (e) {
    return { verdict: "deny", reason: e instanceof BadTargetError ? `refused: ${e.message}` : String(e) };
  }
  let addresses: Awaited<ReturnType<HostResolver["resolve"]>> = [];
  // As the proxy does: a name decided by name rules alone is not looked up.
  if (host.kind === "name" && needsAddresses(policy, host.name)) {
    try {
      addresses = await resolver.resolve(host.name);
    } catch (e) {
      return { verdict: "deny", reason: `cannot resolve ${host.name}: ${(e as Error).message}` };
    }
    if (addresses.length === 0) return { verdict: "deny", reason: `cannot resolve ${host.name}` };
  }
  const v = decideHost(policy, host, addresses);
  const by = v.rule ? `line ${v.rule.line} ${JSON.stringify(ruleText(v.rule))}` : "no rule matched";
  const at = v.address ? ` for ${formatIP(v.address)}` : "";
  return { verdict: v.allow ? "allow" : "deny", reason: `${by}${at}` };
}

/** Parses repeated `--resolve name=ip[,ip...]` options into a static resolver table. */
export function parseResolveOptions(values: readonly string[]): Record<string, string[]> {
  const table: Record<string, string[]> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw new Error(`--resolve expects NAME=IP[,IP...]: ${JSON.stringify(v)}`);
    const name = v.slice(0, eq).toLowerCase().replace(/\.$/, "");
    table[name] = [
      ...(table[name] ?? []),
      ...v
        .slice(eq + 1)
        .split(",")
        .filter((s) => s !== ""),
    ];
  }
  return table;
}

/** `--dns-server` values: IPv4/IPv6 addresses, optionally with a port (`1.2.3.4:5353`, `[::1]:53`). */
export function dnsServerOptions(values: readonly string[]): string[] {
  for (const v of values) {
    const host = v.startsWith("[") ? v.slice(1, v.indexOf("]")) : v.replace(/:\d+$/, "");
    if (parseAddress(host) === undefined)
      throw new Error(`--dns-server expects an IP address: ${JSON.stringify(v)}`);
  }
  return [...values];
}

function fail(command: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`egress router ${command}: ${msg.replace(/\n/g, " ")}\n`);
  process.exitCode = 1;
}

function parsePortOption(v: string): number {
  const n = Number(v);
  if (!/^\d{1,5}$/.test(v) || n > 65535) throw new Error(`invalid port ${JSON.stringify(v)}`);
  return n;
}

/** `--read-timeout`: whole seconds, 0 for none; in milliseconds. */
export function parseReadTimeoutOption(v: string): number {
  if (!/^\d{1,9}$/.test(v)) {
    throw new Error(`--read-timeout expects whole seconds (0 for none): ${JSON.stringify(v)}`);
  }
  return Number(v) * 1000;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function registerRouterCommands(program: Command): void {
  const router = program
    .command("router")
    .description("egress router pod: configuration, HTTP and DNS proxies");

  router
    .command("render")
    .description(
      "print the nftables rules (or --output json / ip commands) the router would install, from EGRESS_* variables",
    )
    .option("-o, --output <format>", "nft (default), json or ip", "nft")
    .option("--cluster-interface <name>", "the pod's cluster interface", DEFAULT_INTERFACES.cluster)
    .option("--egress-interface <name>", "the macvlan (egress) interface", DEFAULT_INTERFACES.egress)
    .action((o: { output: string; clusterInterface: string; egressInterface: string }) => {
      if (o.output !== "json" && o.output !== "nft" && o.output !== "ip") {
        return fail("render", new Error(`--output must be nft, json or ip: ${JSON.stringify(o.output)}`));
      }
      try {
        const text = renderRouter(process.env, o.output, {
          cluster: o.clusterInterface,
          egress: o.egressInterface,
        });
        process.stdout.write(text);
      } catch (e) {
        fail("render", e);
      }
    });

  router
    .command("http-proxy")
    .description("run the HTTP/CONNECT proxy enforcing EGRESS_HTTP_PROXY_DESTINATION, or --check one target")
    .option("--check <target>", "print allow or deny for a host name or IP and exit")
    .option(
      "--resolve <name=ip>",
      "answer for a name instead of DNS (repeatable; for --check and tests)",
      collect,
      [],
    )
    .option("--dns-server <ip>", "name server to ask instead of the system's (repeatable)", collect, [])
    .option("--port <port>", "listen port", String(DEFAULT_HTTP_PROXY_PORT))
    .option("--listen <address>", "listen address", "0.0.0.0")
    .option(
      "--read-timeout <seconds>",
      "end a request or CONNECT tunnel through which no byte moved for this long (0: never)",
      String(DEFAULT_READ_TIMEOUT_MS / 1000),
    )
    .action(
      async (o: {
        check?: string;
        resolve: string[];
        dnsServer: string[];
        port: string;
        listen: string;
        readTimeout: string;
      }) => {
        let resolver: HostResolver = systemResolver;
        try {
          if (o.dnsServer.length > 0) resolver = serverResolver(dnsServerOptions(o.dnsServer));
          if (o.resolve.length > 0) resolver = staticResolver(parseResolveOptions(o.resolve));
          if (o.check !== undefined) {
            const r = await checkHttpProxy(process.env, o.check, resolver);
            process.stdout.write(`${r.verdict}\n`);
            process.stderr.write(`${r.reason}\n`);
            return;
          }
          const policy = parseHttpProxyDestination(process.env.EGRESS_HTTP_PROXY_DESTINATION);
          const log = logger("egress-http-proxy");
          const proxy = await startHttpProxy({
            policy,
            resolver,
            port: parsePortOption(o.port),
            host: o.listen,
            readTimeoutMs: parseReadTimeoutOption(o.readTimeout),
            onEvent: (e) => (e.kind === "allow" ? log.debug(e, "proxy") : log.info(e, "proxy")),
          });
          log.info(
            { address: proxy.address, port: proxy.port, rules: policy.rules.length },
            "HTTP proxy listening",
          );
          const stop = (): void => {
            void proxy.close().then(() => process.exit(0));
          };
          process.once("SIGTERM", stop);
          process.once("SIGINT", stop);
        } catch (e) {
          fail("http-proxy", e);
        }
      },
    );

  router
    .command("dns-proxy")
    .description("run the TCP proxies of EGRESS_DNS_PROXY_DESTINATION")
    .option("--listen <address>", "listen address", "0.0.0.0")
    .option("--dns-server <ip>", "name server to ask instead of the system's (repeatable)", collect, [])
    .action(async (o: { listen: string; dnsServer: string[] }) => {
      try {
        const proxies = parseDnsProxyDestination(process.env.EGRESS_DNS_PROXY_DESTINATION);
        const log = logger("egress-dns-proxy");
        const running = await startDnsProxy({
          proxies,
          ...(o.dnsServer.length > 0 ? { resolver: serverTtlResolver(dnsServerOptions(o.dnsServer)) } : {}),
          host: o.listen,
          onEvent: (e) => (e.kind === "error" ? log.warn(e, "dns-proxy") : log.debug(e, "dns-proxy")),
        });
        log.info({ ports: [...running.ports.keys()] }, "DNS proxy listening");
        const stop = (): void => {
          void running.close().then(() => process.exit(0));
        };
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
      } catch (e) {
        fail("dns-proxy", e);
      }
    });
}

export { RouterConfigError };
