// Shared by the lab end-to-end tests: run the lab CLI (the compiled cli-entry beside the sources),
// run node scripts inside lab namespaces, and snapshot the root namespace to prove the lab never
// touched it. Starts only processes it waits for.

import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const ENTRY = fileURLToPath(new URL("../../../src/lab/cli-entry.js", import.meta.url));
export const ECHO = fileURLToPath(new URL("../../../src/lab/echo-server.js", import.meta.url));

/** Lab e2e tests need root, `ip` and dnsmasq. */
export const SKIP: string | false =
  process.getuid?.() !== 0
    ? "needs root"
    : !existsSync("/usr/sbin/ip") && !existsSync("/sbin/ip") && !existsSync("/usr/bin/ip")
      ? "needs iproute2"
      : !existsSync("/usr/sbin/dnsmasq")
        ? "needs dnsmasq"
        : false;

export const newLabId = (): string => `t${randomBytes(4).toString("hex")}`;

export function lab(args: string[], timeoutMs = 60_000): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, EGRESS_LOG_LEVEL: "info" };
  delete env.NODE_TEST_CONTEXT;
  return spawnSync(process.execPath, [ENTRY, "lab", ...args], { encoding: "utf8", timeout: timeoutMs, env });
}

/** Runs `node -e script` inside a network namespace; stdout is the result. */
export function nodeIn(netns: string, script: string, timeoutMs = 10_000): SpawnSyncReturns<string> {
  return spawnSync("ip", ["netns", "exec", netns, process.execPath, "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
}

export function labNamespaces(id: string): string[] {
  const out = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
  return out
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(`egl-${id}-`) || n.startsWith(`egp-${id}-`))
    .sort();
}

/** What the lab must never change in the root namespace. */
export function rootSnapshot(): Record<string, string> {
  const run = (argv: string[]) => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
    return `${r.status}\n${r.stdout}`;
  };
  return {
    route: run(["ip", "route", "show", "table", "all"]),
    rule: run(["ip", "rule"]),
    nft: run(["nft", "list", "ruleset"]),
    sysctl: run([
      "sysctl",
      "net.ipv4.ip_forward",
      "net.ipv4.conf.all.send_redirects",
      "net.ipv4.conf.default.send_redirects",
    ]),
  };
}

/** Is this pid alive (and not a zombie)? */
export function alive(pid: number): boolean {
  const r = spawnSync("cat", [`/proc/${pid}/stat`], { encoding: "utf8" });
  return r.status === 0 && !/\) Z /.test(r.stdout);
}

export const tcpProbe = (host: string, port: number): string => `
import net from "node:net";
const s = net.connect(${port}, ${JSON.stringify(host)});
s.setTimeout(3000, () => { console.log("TIMEOUT"); process.exit(0); });
s.on("data", (d) => { process.stdout.write(d.toString().split("\\n")[0]); s.destroy(); });
s.on("error", (e) => { console.log(e.code); });
`;

export const udpProbe = (host: string, port: number): string => `
import dgram from "node:dgram";
const u = dgram.createSocket("udp4");
const t = setTimeout(() => { console.log("TIMEOUT"); process.exit(0); }, 3000);
u.on("message", (m) => { process.stdout.write(m.toString()); clearTimeout(t); u.close(); });
u.send("probe", ${port}, ${JSON.stringify(host)});
`;

export const dnsProbe = (server: string, names: string[]): string => `
import { Resolver } from "node:dns/promises";
const r = new Resolver({ timeout: 2000, tries: 2 });
r.setServers([${JSON.stringify(server)}]);
const out = {};
for (const n of ${JSON.stringify(names)}) {
  try { out[n] = (await r.resolve4(n)).join(","); } catch (e) { out[n] = e.code; }
}
console.log(JSON.stringify(out));
`;
