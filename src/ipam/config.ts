// Parses and validates a Whereabouts network configuration (the JSON a runtime or a delegating plugin
// writes on stdin) into plain data for the allocator. Every problem is a ConfigError naming the field
// path (e.g. `ipam.ipRanges[1].range`) and the offending value. Pure: no I/O, no environment access.
import {
  type CIDR,
  cidrContains,
  cidrLast,
  type Family,
  formatCIDR,
  formatIP,
  type IP,
  parseCIDR,
  parseIP,
} from "../api/ip.js";
import { poolName } from "./model.js";

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly detail: string,
  ) {
    super(`${field}: ${value === undefined ? "" : `invalid value ${JSON.stringify(value)}: `}${detail}`);
    this.name = "ConfigError";
  }
}

/** One range to allocate from, normalized. `first`..`last` are the usable bounds: never the network
 *  address, never the all-ones address, narrowed by range_start/range_end. */
export interface IPRange {
  family: Family;
  cidr: CIDR;
  first: bigint;
  last: bigint;
  /** Whole subnets never handed out (host bits masked), same family as the range. */
  exclude: CIDR[];
  /** Single addresses never handed out (the gateway when it lies inside the range). */
  skip: bigint[];
  /** IPPool name (upstream naming). */
  pool: string;
  /** Config path of the range, for messages (`ipam.range`, `ipam.ipRanges[0].range`). */
  field: string;
}

export interface StaticAddress {
  address: string;
  gateway?: string;
  family: Family;
}

export interface Route {
  dst: string;
  gw?: string;
  /** Other route fields of CNI 1.1 (mtu, advmss, priority, table, scope) passed through unchanged. */
  extra: Record<string, unknown>;
}

export interface DNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Attachment {
  containerID: string;
  ifname: string;
}

export type Datastore = "file" | "kubernetes";

export interface WhereaboutsConfig {
  cniVersion: string;
  /** Network name from the config's top-level `name`. */
  name: string;
  ranges: IPRange[];
  networkName: string;
  overlapping: boolean;
  gateway?: IP;
  addresses: StaticAddress[];
  routes: Route[];
  dns?: DNS;
  datastore: Datastore;
  dataDir: string;
  /** How long to wait for a contended datastore before failing with CNI error 11. */
  lockTimeoutMs: number;
  /** `prevResult` as given (CHECK, DEL), undecoded. */
  prevResult?: unknown;
  /** GC: `cni.dev/valid-attachments` (or `cni.dev/attachments`), undefined when absent. */
  validAttachments?: Attachment[];
  /** The raw `ipam.kubernetes` object, for the kubernetes datastore. */
  kubernetes?: Record<string, unknown>;
}

export const DEFAULT_DATA_DIR = "/var/lib/cni/whereabouts";
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function str(o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new ConfigError(`${path}${key}`, v, "must be a string");
  return v;
}

function strList(o: Obj, key: string, path: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new ConfigError(`${path}${key}`, v, "must be an array of strings");
  return v.map((x, i) => {
    if (typeof x !== "string") throw new ConfigError(`${path}${key}[${i}]`, x, "must be a string");
    return x;
  });
}

function ipOf(text: string, field: string): IP {
  const ip = parseIP(text);
  if (!ip) throw new ConfigError(field, text, "must be an IP address");
  return ip;
}

/** `exclude` entries: a CIDR (host bits masked: the whole subnet is excluded) or a plain address. */
export function parseExclude(text: string, field: string): CIDR {
  const c = parseCIDR(text);
  if (c) return c;
  const ip = parseIP(text);
  if (!ip) throw new ConfigError(field, text, "must be a CIDR or an IP address");
  return { family: ip.family, network: ip.value, prefix: ip.family === 4 ? 32 : 128, address: ip.value };
}

interface RangeInput {
  range: string;
  rangeStart?: string;
  rangeEnd?: string;
  exclude: string[];
}

/** Parses `range` (CIDR or `A-B/len`), range_start, range_end and exclude into usable bounds. */
export function parseRange(
  input: RangeInput,
  paths: { range: string; start: string; end: string; exclude: string },
  networkName: string,
  gateway?: IP,
): IPRange {
  let startText = input.rangeStart;
  let endText = input.rangeEnd;
  let startField = paths.start;
  let endField = paths.end;
  let cidrText = input.range;
  const dash = input.range.indexOf("-");
  if (dash >= 0) {
    // Upstream's "A-B/len": A is the first address, B/len gives both the last address and the subnet.
    startText = input.range.slice(0, dash);
    cidrText = input.range.slice(dash + 1);
    startField = endField = paths.range;
    const last = parseCIDR(cidrText);
    if (!last) throw new ConfigError(paths.range, input.range, "must be a CIDR or A-B/len");
    endText = formatIP({ family: last.family, value: last.address });
  }
  const cidr = parseCIDR(cidrText);
  if (!cidr) throw new ConfigError(paths.range, input.range, "must be a CIDR or A-B/len");
  const bits = cidr.family === 4 ? 32 : 128;
  if (bits - cidr.prefix < 2) {
    throw new ConfigError(paths.range, input.range, "the subnet must have at least 2 host bits");
  }
  const broadcast = cidrLast(cidr);
  let first = cidr.network + 1n;
  let last = broadcast - 1n;
  const inside = (text: string, field: string): bigint => {
    const ip = ipOf(text, field);
    if (!cidrContains(cidr, ip)) {
      throw new ConfigError(field, text, `must lie inside the range ${formatCIDR(cidr)}`);
    }
    return ip.value;
  };
  if (startText !== undefined) {
    const s = inside(startText, startField);
    if (s > first) first = s;
  }
  if (endText !== undefined) {
    const e = inside(endText, endField);
    if (e < last) last = e;
  }
  if (first > last) {
    throw new ConfigError(endField, endText, "the range end lies before the range start");
  }
  const exclude: CIDR[] = [];
  input.exclude.forEach((x, i) => {
    const c = parseExclude(x, `${paths.exclude}[${i}]`);
    if (c.family === cidr.family) exclude.push(c);
  });
  const skip: bigint[] = [];
  if (gateway && cidrContains(cidr, gateway)) skip.push(gateway.value);
  return {
    family: cidr.family,
    cidr: { ...cidr, address: cidr.network },
    first,
    last,
    exclude,
    skip,
    pool: poolName(cidr, networkName),
    field: paths.range,
  };
}

function parseRoutes(v: unknown, path: string): Route[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(path, v, "must be an array of routes");
  return v.map((r, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(r)) throw new ConfigError(p, r, "must be an object");
    const dst = str(r, "dst", `${p}.`);
    if (dst === undefined) throw new ConfigError(`${p}.dst`, undefined, "is required");
    if (!parseCIDR(dst)) throw new ConfigError(`${p}.dst`, dst, "must be a CIDR");
    const gw = str(r, "gw", `${p}.`);
    if (gw !== undefined) ipOf(gw, `${p}.gw`);
    const { dst: _d, gw: _g, ...extra } = r;
    return gw === undefined ? { dst, extra } : { dst, gw, extra };
  });
}

function parseDNS(v: unknown, path: string): DNS | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new ConfigError(path, v, "must be an object");
  const dns: DNS = {};
  const ns = strList(v, "nameservers", `${path}.`);
  if (ns) dns.nameservers = ns;
  const domain = str(v, "domain", `${path}.`);
  if (domain !== undefined) dns.domain = domain;
  const search = strList(v, "search", `${path}.`);
  if (search) dns.search = search;
  const options = strList(v, "options", `${path}.`);
  if (options) dns.options = options;
  return dns;
}

function parseAddresses(v: unknown, path: string): StaticAddress[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(path, v, "must be an array");
  return v.map((a, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(a)) throw new ConfigError(p, a, "must be an object");
    const address = str(a, "address", `${p}.`);
    if (address === undefined) throw new ConfigError(`${p}.address`, undefined, "is required");
    const c = parseCIDR(address);
    if (!c) throw new ConfigError(`${p}.address`, address, "must be an address with prefix length (CIDR)");
    const gateway = str(a, "gateway", `${p}.`);
    if (gateway !== undefined) ipOf(gateway, `${p}.gateway`);
    return gateway === undefined ? { address, family: c.family } : { address, gateway, family: c.family };
  });
}

function parseAttachments(v: unknown, path: string): Attachment[] {
  if (!Array.isArray(v)) throw new ConfigError(path, v, "must be an array of {containerID, ifname}");
  return v.map((a, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(a)) throw new ConfigError(p, a, "must be an object");
    const containerID = str(a, "containerID", `${p}.`);
    const ifname = str(a, "ifname", `${p}.`);
    if (containerID === undefined) throw new ConfigError(`${p}.containerID`, undefined, "is required");
    if (ifname === undefined) throw new ConfigError(`${p}.ifname`, undefined, "is required");
    return { containerID, ifname };
  });
}

/** Parses the whole network configuration object (already JSON-decoded). */
export function parseConfig(net: unknown): WhereaboutsConfig {
  if (!isObj(net)) throw new ConfigError("(config)", net, "must be a JSON object");
  const cniVersion = str(net, "cniVersion", "") ?? "";
  const name = str(net, "name", "") ?? "";
  const ipam = net.ipam;
  if (!isObj(ipam)) throw new ConfigError("ipam", ipam, 'must be an object with type "whereabouts"');
  const type = str(ipam, "type", "ipam.");
  if (type !== "whereabouts") throw new ConfigError("ipam.type", type, 'must be "whereabouts"');

  const networkName = str(ipam, "network_name", "ipam.") ?? "";
  const overlappingRaw = ipam.enable_overlapping_ranges;
  if (overlappingRaw !== undefined && typeof overlappingRaw !== "boolean") {
    throw new ConfigError("ipam.enable_overlapping_ranges", overlappingRaw, "must be true or false");
  }
  const gwText = str(ipam, "gateway", "ipam.");
  const gateway = gwText === undefined || gwText === "" ? undefined : ipOf(gwText, "ipam.gateway");

  const ranges: IPRange[] = [];
  const topRange = str(ipam, "range", "ipam.");
  if (topRange !== undefined && topRange !== "") {
    const input: RangeInput = { range: topRange, exclude: strList(ipam, "exclude", "ipam.") ?? [] };
    const s = str(ipam, "range_start", "ipam.");
    const e = str(ipam, "range_end", "ipam.");
    if (s) input.rangeStart = s;
    if (e) input.rangeEnd = e;
    ranges.push(
      parseRange(
        input,
        { range: "ipam.range", start: "ipam.range_start", end: "ipam.range_end", exclude: "ipam.exclude" },
        networkName,
        gateway,
      ),
    );
  }
  const ipRanges = ipam.ipRanges;
  if (ipRanges !== undefined && ipRanges !== null) {
    if (!Array.isArray(ipRanges)) throw new ConfigError("ipam.ipRanges", ipRanges, "must be an array");
    ipRanges.forEach((r, i) => {
      const p = `ipam.ipRanges[${i}]`;
      if (!isObj(r)) throw new ConfigError(p, r, "must be an object");
      const range = str(r, "range", `${p}.`);
      if (range === undefined || range === "") throw new ConfigError(`${p}.range`, undefined, "is required");
      const input: RangeInput = { range, exclude: strList(r, "exclude", `${p}.`) ?? [] };
      const s = str(r, "range_start", `${p}.`);
      const e = str(r, "range_end", `${p}.`);
      if (s) input.rangeStart = s;
      if (e) input.rangeEnd = e;
      ranges.push(
        parseRange(
          input,
          { range: `${p}.range`, start: `${p}.range_start`, end: `${p}.range_end`, exclude: `${p}.exclude` },
          networkName,
          gateway,
        ),
      );
    });
  }
  if (ranges.length === 0) {
    throw new ConfigError("ipam.range", undefined, "is required (or at least one ipam.ipRanges entry)");
  }
  const seen = new Map<string, string>();
  for (const r of ranges) {
    const prev = seen.get(r.pool);
    if (prev !== undefined) {
      throw new ConfigError(
        r.field,
        formatCIDR(r.cidr),
        `duplicates the range of ${prev} (one IP per range)`,
      );
    }
    seen.set(r.pool, r.field);
  }

  const datastore = str(ipam, "datastore", "ipam.") ?? "kubernetes";
  if (datastore !== "file" && datastore !== "kubernetes") {
    throw new ConfigError("ipam.datastore", datastore, 'supported values: "file", "kubernetes"');
  }
  const dataDir = str(ipam, "data_dir", "ipam.") ?? DEFAULT_DATA_DIR;
  if (!dataDir.startsWith("/")) throw new ConfigError("ipam.data_dir", dataDir, "must be an absolute path");
  const lt = ipam.lock_timeout_ms;
  if (lt !== undefined && (typeof lt !== "number" || !Number.isInteger(lt) || lt < 0)) {
    throw new ConfigError("ipam.lock_timeout_ms", lt, "must be a non-negative integer");
  }

  const conf: WhereaboutsConfig = {
    cniVersion,
    name,
    ranges,
    networkName,
    overlapping: overlappingRaw !== false,
    addresses: parseAddresses(ipam.addresses, "ipam.addresses"),
    routes: parseRoutes(ipam.routes, "ipam.routes"),
    datastore,
    dataDir,
    lockTimeoutMs: typeof lt === "number" ? lt : DEFAULT_LOCK_TIMEOUT_MS,
  };
  if (gateway) conf.gateway = gateway;
  const dns = parseDNS(ipam.dns, "ipam.dns");
  if (dns) conf.dns = dns;
  if (net.prevResult !== undefined) conf.prevResult = net.prevResult;
  if (net["cni.dev/valid-attachments"] !== undefined) {
    conf.validAttachments = parseAttachments(net["cni.dev/valid-attachments"], "cni.dev/valid-attachments");
  } else if (net["cni.dev/attachments"] !== undefined) {
    conf.validAttachments = parseAttachments(net["cni.dev/attachments"], "cni.dev/attachments");
  }
  if (isObj(ipam.kubernetes)) conf.kubernetes = ipam.kubernetes;
  return conf;
}

/** Where upstream looks for the flat-file configuration when `ipam.configuration_path` is not set. */
export const FLAT_FILE_PATHS = [
  "/etc/kubernetes/cni/net.d/whereabouts.d/whereabouts.conf",
  "/etc/cni/net.d/whereabouts.d/whereabouts.conf",
];

/** Fills the `ipam` fields the network config leaves unset from the flat file (upstream merges the
 *  same way: the network config wins). `flat` is the decoded flat file; returns a new config. */
export function mergeFlatFile(net: unknown, flat: unknown, source: string): unknown {
  if (flat === undefined || !isObj(net) || !isObj(net.ipam)) return net;
  if (!isObj(flat))
    throw new ConfigError("ipam.configuration_path", source, "the flat file must hold a JSON object");
  const ipam: Obj = { ...net.ipam };
  for (const [k, v] of Object.entries(flat)) {
    if (k === "type") continue;
    if (ipam[k] === undefined) ipam[k] = v;
    else if (isObj(ipam[k]) && isObj(v)) ipam[k] = { ...v, ...(ipam[k] as Obj) };
  }
  return { ...net, ipam };
}
