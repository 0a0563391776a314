// Reads the egress router's whole configuration from an environment map (process.env or a test
// table) and returns one typed value per mode. Pure: the caller passes the environment in.
//
// Which variables each mode needs (as upstream's egress-router image):
//   init, legacy, unit-test  EGRESS_SOURCE, EGRESS_GATEWAY, EGRESS_DESTINATION   (redirect)
//   http-proxy               EGRESS_HTTP_PROXY_DESTINATION; EGRESS_SOURCE/GATEWAY checked if set
//   dns-proxy                EGRESS_DNS_PROXY_DESTINATION;  EGRESS_SOURCE/GATEWAY checked if set
// An unset or empty EGRESS_ROUTER_MODE means `legacy` (upstream's default for images that
// predate init containers); any other unknown value is an error.

import { RouterConfigError } from "./errors.js";
import {
  type DnsProxyTarget,
  type HttpProxyPolicy,
  parseDnsProxyDestination,
  parseHttpProxyDestination,
} from "./proxy.js";
import {
  type EgressDestination,
  type EgressSource,
  parseEgressDestination,
  parseEgressGateway,
  parseEgressSource,
} from "./redirect.js";

export const ROUTER_MODES = ["init", "legacy", "unit-test", "http-proxy", "dns-proxy"] as const;
export type RouterMode = (typeof ROUTER_MODES)[number];
export type RedirectMode = "init" | "legacy" | "unit-test";

export type Env = Readonly<Record<string, string | undefined>>;

export interface RedirectConfig {
  mode: RedirectMode;
  source: EgressSource;
  gateway: string;
  destination: EgressDestination;
}

export interface HttpProxyConfig {
  mode: "http-proxy";
  source: EgressSource | null;
  gateway: string | null;
  policy: HttpProxyPolicy;
}

export interface DnsProxyConfig {
  mode: "dns-proxy";
  source: EgressSource | null;
  gateway: string | null;
  proxies: DnsProxyTarget[];
}

export type RouterConfig = RedirectConfig | HttpProxyConfig | DnsProxyConfig;

export function parseRouterMode(value: string | undefined): RouterMode {
  const v = (value ?? "").trim();
  if (v === "") return "legacy";
  if ((ROUTER_MODES as readonly string[]).includes(v)) return v as RouterMode;
  throw new RouterConfigError(
    "EGRESS_ROUTER_MODE",
    undefined,
    v,
    `must be one of ${ROUTER_MODES.join(", ")}`,
  );
}

export function isRedirectMode(m: RouterMode): m is RedirectMode {
  return m === "init" || m === "legacy" || m === "unit-test";
}

function optionalNetwork(env: Env): { source: EgressSource | null; gateway: string | null } {
  const hasSource = (env.EGRESS_SOURCE ?? "").trim() !== "";
  const hasGateway = (env.EGRESS_GATEWAY ?? "").trim() !== "";
  const source = hasSource ? parseEgressSource(env.EGRESS_SOURCE) : null;
  const gateway = hasGateway ? parseEgressGateway(env.EGRESS_GATEWAY, source ?? undefined) : null;
  return { source, gateway };
}

/** Parses the variables the given mode needs. Throws RouterConfigError on the first problem. */
export function parseRouterEnv(env: Env): RouterConfig {
  const mode = parseRouterMode(env.EGRESS_ROUTER_MODE);
  if (isRedirectMode(mode)) {
    const source = parseEgressSource(env.EGRESS_SOURCE);
    const gateway = parseEgressGateway(env.EGRESS_GATEWAY, source);
    const destination = parseEgressDestination(env.EGRESS_DESTINATION);
    return { mode, source, gateway, destination };
  }
  if (mode === "http-proxy") {
    return {
      mode,
      ...optionalNetwork(env),
      policy: parseHttpProxyDestination(env.EGRESS_HTTP_PROXY_DESTINATION),
    };
  }
  return {
    mode,
    ...optionalNetwork(env),
    proxies: parseDnsProxyDestination(env.EGRESS_DNS_PROXY_DESTINATION),
  };
}
