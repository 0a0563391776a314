// CNI spec versions this plugin speaks and the result shapes per version (1.x without `ips[].version`,
// 0.3.x/0.4.0 with it). Also decodes a prevResult of either shape. Pure: no I/O.
import { parseCIDR } from "../api/ip.js";
import { CniCode, CniError } from "./errors.js";

export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export const LATEST_VERSION = "1.1.0";

/** Compares dotted versions numerically (-1, 0, 1). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function requireSupported(v: string): void {
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      "incompatible CNI versions",
      `config is ${JSON.stringify(v === "" ? "0.1.0 (cniVersion missing)" : v)}, plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`,
    );
  }
}

export interface ResultIP {
  /** Address with prefix length, e.g. "10.1.2.3/24". */
  address: string;
  gateway?: string;
  family: 4 | 6;
}

export interface IPAMResult {
  ips: ResultIP[];
  routes: { dst: string; gw?: string; extra: Record<string, unknown> }[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

/** Renders an IPAM result in the shape of `cniVersion`. */
export function renderResult(cniVersion: string, r: IPAMResult): Record<string, unknown> {
  const legacy = compareVersions(cniVersion, "1.0.0") < 0;
  const ips = r.ips.map((ip) => {
    const o: Record<string, unknown> = legacy
      ? { version: String(ip.family), address: ip.address }
      : { address: ip.address };
    if (ip.gateway !== undefined) o.gateway = ip.gateway;
    return o;
  });
  const out: Record<string, unknown> = { cniVersion, ips };
  if (r.routes.length > 0) {
    out.routes = r.routes.map((rt) => ({
      ...(legacy ? {} : rt.extra),
      dst: rt.dst,
      ...(rt.gw ? { gw: rt.gw } : {}),
    }));
  }
  out.dns = r.dns ?? {};
  return out;
}

/** The addresses (CIDR text) of a prevResult of any supported shape. */
export function prevResultAddresses(prev: unknown): string[] {
  if (typeof prev !== "object" || prev === null) {
    throw new CniError(CniCode.DecodeFailure, "failed to decode prevResult", "prevResult must be an object");
  }
  const ips = (prev as { ips?: unknown }).ips;
  if (ips === undefined) return [];
  if (!Array.isArray(ips))
    throw new CniError(CniCode.DecodeFailure, "failed to decode prevResult", "ips must be an array");
  return ips.map((ip, i) => {
    const a = typeof ip === "object" && ip !== null ? (ip as { address?: unknown }).address : undefined;
    if (typeof a !== "string" || !parseCIDR(a)) {
      throw new CniError(
        CniCode.DecodeFailure,
        "failed to decode prevResult",
        `prevResult.ips[${i}].address is not a CIDR`,
      );
    }
    return a;
  });
}
