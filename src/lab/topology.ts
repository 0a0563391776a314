// The lab topology: parsing and validation of the YAML file that describes the underlay networks,
// the nodes, the external hosts, the control plane address, the lab DNS records and the secondary
// networks (secondary.ts). Errors name the field path and the offending value. Pure: no I/O (the
// caller reads the file).
import { parseAllDocuments } from "yaml";
import { type FieldError, formatFieldError, invalid, required } from "../api/errors.js";
import { type CIDR, cidrContains, formatCIDR, formatIPv4, parseCIDR, parseIP } from "../api/ip.js";
import { isRecord } from "../api/object.js";
import { RESERVED_PARTS } from "./names.js";
import { type EchoPorts, Reader } from "./reader.js";
import { type SecondaryNetwork, validateSecondaryNetworks } from "./secondary.js";

export interface Network {
  name: string;
  /** Canonical CIDRs (host bits cleared); an address on this network takes the prefix of the
   *  subnet that contains it. Empty: an L2-only network (no addresses, e.g. secondary networks). */
  subnets: string[];
  /** Default gateway for hosts whose first interface is on this network. */
  gateway?: string;
}

export interface Interface {
  /** Name inside the host's namespace: eth0, eth1, … in the order given. */
  name: string;
  network: string;
  /** Addresses with their prefix, e.g. "192.168.126.11/18". */
  addresses: string[];
}

export interface Route {
  to: string;
  via: string;
}

export interface Node {
  name: string;
  interfaces: Interface[];
  labels: Record<string, string>;
  gateway?: string;
}

export type { EchoPorts };

export interface ExternalHost {
  name: string;
  interfaces: Interface[];
  gateway?: string;
  routes: Route[];
  /** Routes between its interfaces (a router). */
  forwarding: boolean;
  echo?: EchoPorts;
}

export interface ControlPlane {
  network: string;
  address: string;
  port: number;
}

export interface DnsConfig {
  /** External host that runs dnsmasq on all its addresses, port 53. */
  server: string;
  records: Record<string, string[]>;
  /** TTL (seconds) of the records' answers (dnsmasq --local-ttl); absent = dnsmasq's default 0.
   *  The egress-firewall controller re-resolves dnsName rules at the TTL (never more often than its
   *  minimum interval), so a test of a changing record sets a small TTL here. */
  ttl?: number;
}

/** The cluster network mode (`egress server --network-mode`; ClusterNetwork.pluginName). */
export const NETWORK_MODES = ["multitenant", "networkpolicy", "subnet"] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];
export const DEFAULT_NETWORK_MODE: NetworkMode = "multitenant";

export const isNetworkMode = (v: unknown): v is NetworkMode =>
  typeof v === "string" && (NETWORK_MODES as readonly string[]).includes(v);

/** The error for a network mode that is not one of NETWORK_MODES, naming `field` and the value. */
export function networkModeError(field: string, v: unknown): FieldError {
  return invalid(field, v, `expected one of ${NETWORK_MODES.join(", ")}`);
}

export interface Topology {
  /** Always set by parseTopology (default multitenant; `egress lab up --network-mode` overrides
   *  it). Optional in the type because state files written before the field existed lack it. */
  networkMode?: NetworkMode;
  networks: Network[];
  controlPlane: ControlPlane;
  nodes: Node[];
  externals: ExternalHost[];
  dns?: DnsConfig;
  /** L2 segments for pods' secondary networks (src/lab/secondary.ts). Always set by parseTopology
   *  (the built-in default when the file has none); optional for state files written before. */
  secondaryNetworks?: SecondaryNetwork[];
}

export class TopologyError extends Error {
  override name = "TopologyError";
  constructor(
    readonly source: string,
    readonly causes: FieldError[],
  ) {
    super(`${source}: invalid topology:\n${causes.map((c) => `  ${formatFieldError(c)}`).join("\n")}`);
  }
}

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const DNS_NAME = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Parses and validates a topology document. */
export function parseTopology(text: string, source: string): Topology {
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  if (list.length !== 1)
    throw new TopologyError(source, [invalid("", list.length, "expected exactly one YAML document")]);
  const doc = list[0]!;
  if (doc.errors.length > 0)
    throw new TopologyError(source, [invalid("", source, doc.errors[0]!.message.split("\n")[0]!)]);
  return validateTopology(doc.toJS() as unknown, source);
}

export function validateTopology(v: unknown, source: string): Topology {
  const errs: FieldError[] = [];
  const t = new Reader(errs);
  if (!isRecord(v)) throw new TopologyError(source, [invalid("", v, "expected a mapping")]);
  t.noUnknown(v, "", [
    "networkMode",
    "networks",
    "controlPlane",
    "nodes",
    "externals",
    "dns",
    "secondaryNetworks",
  ]);

  let networkMode: NetworkMode = DEFAULT_NETWORK_MODE;
  if (v.networkMode !== undefined) {
    if (isNetworkMode(v.networkMode)) networkMode = v.networkMode;
    else errs.push(networkModeError("networkMode", v.networkMode));
  }

  const networks: Network[] = [];
  const netCidrs = new Map<string, CIDR[]>();
  t.list(v.networks, "networks", true).forEach((n, i) => {
    const f = `networks[${i}]`;
    if (!t.record(n, f)) return;
    t.noUnknown(n, f, ["name", "subnets", "gateway"]);
    const name = t.name(n.name, `${f}.name`);
    if (name && netCidrs.has(name)) errs.push(invalid(`${f}.name`, name, "duplicate network name"));
    const cidrs: CIDR[] = [];
    t.list(n.subnets, `${f}.subnets`, false).forEach((s, j) => {
      const c = typeof s === "string" ? parseCIDR(s) : undefined;
      if (c?.family !== 4) errs.push(invalid(`${f}.subnets[${j}]`, s, "expected an IPv4 CIDR"));
      else cidrs.push(c);
    });
    const gw = n.gateway === undefined ? undefined : t.ipIn(n.gateway, `${f}.gateway`, cidrs);
    if (!name) return;
    netCidrs.set(name, cidrs);
    networks.push({ name, subnets: cidrs.map(formatCIDR), ...(gw ? { gateway: gw } : {}) });
  });

  const used = new Map<string, string>();
  const claim = (addr: string, field: string) => {
    const prev = used.get(addr);
    if (prev) errs.push(invalid(field, addr, `address already used at ${prev}`));
    else used.set(addr, field);
  };
  const interfaces = (raw: unknown, f: string, single: boolean): Interface[] => {
    const out: Interface[] = [];
    t.list(raw, f, true).forEach((x, i) => {
      const g = `${f}[${i}]`;
      if (!t.record(x, g)) return;
      t.noUnknown(x, g, single ? ["network", "address"] : ["network", "addresses"]);
      const network = typeof x.network === "string" ? x.network : undefined;
      const cidrs = network === undefined ? undefined : netCidrs.get(network);
      if (!cidrs) {
        errs.push(
          network === undefined
            ? required(`${g}.network`)
            : invalid(`${g}.network`, x.network, "no such network"),
        );
        return;
      }
      const raws = single
        ? x.address === undefined
          ? []
          : [x.address]
        : t.list(x.addresses, `${g}.addresses`, false);
      const addresses: string[] = [];
      raws.forEach((a, j) => {
        const field = single ? `${g}.address` : `${g}.addresses[${j}]`;
        const ip = t.ipIn(a, field, cidrs);
        if (!ip) return;
        claim(ip, field);
        const c = cidrs.find((c) => cidrContains(c, parseIP(ip)!))!;
        addresses.push(`${ip}/${c.prefix}`);
      });
      out.push({ name: `eth${i}`, network: network!, addresses });
    });
    return out;
  };

  const hostNames = new Set<string>();
  const hostName = (raw: unknown, field: string): string | undefined => {
    const name = t.name(raw, field);
    if (!name) return undefined;
    if ((RESERVED_PARTS as readonly string[]).includes(name))
      errs.push(invalid(field, name, `reserved (${RESERVED_PARTS.join(", ")})`));
    else if (hostNames.has(name))
      errs.push(invalid(field, name, "duplicate name among nodes and external hosts"));
    hostNames.add(name);
    return name;
  };

  let controlPlane: ControlPlane = { network: "", address: "", port: 6443 };
  if (t.record(v.controlPlane, "controlPlane")) {
    const cp = v.controlPlane;
    t.noUnknown(cp, "controlPlane", ["network", "address", "port"]);
    const network = typeof cp.network === "string" ? cp.network : undefined;
    const cidrs = network === undefined ? undefined : netCidrs.get(network);
    if (!cidrs)
      errs.push(
        network === undefined
          ? required("controlPlane.network")
          : invalid("controlPlane.network", cp.network, "no such network"),
      );
    const ip = cidrs ? t.ipIn(cp.address, "controlPlane.address", cidrs) : undefined;
    if (ip) claim(ip, "controlPlane.address");
    const c = ip && cidrs ? cidrs.find((c) => cidrContains(c, parseIP(ip)!)) : undefined;
    const port = cp.port === undefined ? 6443 : t.port(cp.port, "controlPlane.port");
    controlPlane = {
      network: network ?? "",
      address: c && ip ? `${ip}/${c.prefix}` : "",
      port: port ?? 6443,
    };
  }

  const gatewayOf = (raw: unknown, field: string, ifs: Interface[]): string | undefined => {
    if (raw === undefined) return undefined;
    const all = ifs.flatMap((x) => netCidrs.get(x.network) ?? []);
    return t.ipIn(raw, field, all);
  };

  const nodes: Node[] = [];
  t.list(v.nodes, "nodes", true).forEach((n, i) => {
    const f = `nodes[${i}]`;
    if (!t.record(n, f)) return;
    t.noUnknown(n, f, ["name", "interfaces", "labels", "gateway"]);
    const name = hostName(n.name, `${f}.name`);
    const ifs = interfaces(n.interfaces, `${f}.interfaces`, true);
    const labels: Record<string, string> = {};
    if (n.labels !== undefined && t.record(n.labels, `${f}.labels`)) {
      for (const [k, val] of Object.entries(n.labels)) {
        const lv = val === null ? "" : val;
        if (!LABEL_KEY.test(k)) errs.push(invalid(`${f}.labels`, k, "invalid label key"));
        else if (typeof lv !== "string" || !LABEL_VALUE.test(lv))
          errs.push(invalid(`${f}.labels[${k}]`, val, "invalid label value (quote it)"));
        else labels[k] = lv;
      }
    }
    const rawFirst = Array.isArray(n.interfaces) ? (n.interfaces[0] as unknown) : undefined;
    if (isRecord(rawFirst) && rawFirst.address === undefined)
      errs.push(required(`${f}.interfaces[0].address`, "the first interface of a node needs an address"));
    const gw = gatewayOf(n.gateway, `${f}.gateway`, ifs);
    if (name) nodes.push({ name, interfaces: ifs, labels, ...(gw ? { gateway: gw } : {}) });
  });

  const externals: ExternalHost[] = [];
  t.list(v.externals, "externals", false).forEach((x, i) => {
    const f = `externals[${i}]`;
    if (!t.record(x, f)) return;
    t.noUnknown(x, f, ["name", "interfaces", "gateway", "routes", "forwarding", "echo"]);
    const name = hostName(x.name, `${f}.name`);
    const ifs = interfaces(x.interfaces, `${f}.interfaces`, false);
    const gw = gatewayOf(x.gateway, `${f}.gateway`, ifs);
    const routes: Route[] = [];
    t.list(x.routes, `${f}.routes`, false).forEach((r, j) => {
      const g = `${f}.routes[${j}]`;
      if (!t.record(r, g)) return;
      t.noUnknown(r, g, ["to", "via"]);
      const to = typeof r.to === "string" ? parseCIDR(r.to) : undefined;
      if (to?.family !== 4) errs.push(invalid(`${g}.to`, r.to, "expected an IPv4 CIDR"));
      const via = typeof r.via === "string" ? parseIP(r.via) : undefined;
      if (via?.family !== 4) errs.push(invalid(`${g}.via`, r.via, "expected an IPv4 address"));
      if (to && via) routes.push({ to: formatCIDR(to), via: formatIPv4(via.value) });
    });
    if (x.forwarding !== undefined && typeof x.forwarding !== "boolean")
      errs.push(invalid(`${f}.forwarding`, x.forwarding, "expected true or false"));
    const echo = x.echo === undefined ? undefined : t.echo(x.echo, `${f}.echo`);
    if (name)
      externals.push({
        name,
        interfaces: ifs,
        routes,
        forwarding: x.forwarding === true,
        ...(gw ? { gateway: gw } : {}),
        ...(echo ? { echo } : {}),
      });
  });

  let dns: DnsConfig | undefined;
  if (v.dns !== undefined && t.record(v.dns, "dns")) {
    t.noUnknown(v.dns, "dns", ["server", "records", "ttl"]);
    const server = typeof v.dns.server === "string" ? v.dns.server : undefined;
    const host = externals.find((e) => e.name === server);
    if (!host) errs.push(invalid("dns.server", v.dns.server, "expected the name of an external host"));
    else if (host.interfaces.every((x) => x.addresses.length === 0))
      errs.push(invalid("dns.server", server, "the DNS host has no address"));
    const records: Record<string, string[]> = {};
    if (v.dns.records !== undefined && t.record(v.dns.records, "dns.records")) {
      for (const [name, val] of Object.entries(v.dns.records)) {
        const f = `dns.records[${name}]`;
        if (!DNS_NAME.test(name)) errs.push(invalid(f, name, "invalid DNS name (lower case)"));
        const addrs = (Array.isArray(val) ? val : [val]).map((a) => {
          const ip = typeof a === "string" ? parseIP(a) : undefined;
          if (ip?.family !== 4) errs.push(invalid(f, a, "expected an IPv4 address"));
          return ip ? formatIPv4(ip.value) : "";
        });
        records[name] = addrs;
      }
    }
    let ttl: number | undefined;
    if (v.dns.ttl !== undefined) {
      const x = v.dns.ttl;
      if (typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 86_400) ttl = x;
      else errs.push(invalid("dns.ttl", x, "expected whole seconds 0-86400"));
    }
    if (server) dns = { server, records, ...(ttl !== undefined ? { ttl } : {}) };
  }

  // After nodes and externals: secondary hosts share their name space (egl-<id>-<name>).
  const secondaryNetworks = validateSecondaryNetworks(v.secondaryNetworks, {
    t,
    errs,
    nodes: nodes.map((n) => n.name),
    networks: networks.map((n) => n.name),
    hostName,
  });

  if (errs.length > 0) throw new TopologyError(source, errs);
  return {
    networkMode,
    networks,
    controlPlane,
    nodes,
    externals,
    ...(dns ? { dns } : {}),
    secondaryNetworks,
  };
}

/** First address (without prefix) of a host's interfaces, if any. */
export function primaryAddress(ifs: Interface[]): string | undefined {
  const a = ifs[0]?.addresses[0];
  return a?.split("/")[0];
}
