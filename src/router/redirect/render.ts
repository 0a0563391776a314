// The JSON view of a parsed router configuration printed by `egress router render --output json`.
// Its shape is a stable contract other tools read; change it only additively. Pure: no I/O.

import type { RouterConfig } from "../config/env.js";

export type RenderedConfig =
  | {
      mode: "init" | "legacy" | "unit-test";
      source: string;
      prefixLength: number | null;
      gateway: string;
      rules: { port: number; protocol: "tcp" | "udp"; destination: string; remotePort: number }[];
      fallback: string | null;
    }
  | { mode: "http-proxy"; rules: { action: "allow" | "deny"; kind: string; value: string }[] }
  | { mode: "dns-proxy"; proxies: { port: number; target: string; targetPort: number }[] };

export function renderJson(config: RouterConfig): RenderedConfig {
  switch (config.mode) {
    case "http-proxy":
      return {
        mode: config.mode,
        rules: config.policy.rules.map((r) => ({ action: r.action, kind: r.kind, value: r.value })),
      };
    case "dns-proxy":
      return {
        mode: config.mode,
        proxies: config.proxies.map((p) => ({ port: p.port, target: p.target, targetPort: p.targetPort })),
      };
    default:
      return {
        mode: config.mode,
        source: config.source.address,
        prefixLength: config.source.prefixLength,
        gateway: config.gateway,
        rules: config.destination.rules.map((r) => ({
          port: r.port,
          protocol: r.protocol,
          destination: r.destination,
          remotePort: r.remotePort,
        })),
        fallback: config.destination.fallback,
      };
  }
}
