// `egress trace` arguments: --from, --to, --output and their errors. Pure: no I/O.
import { dns1123LabelErrors, dns1123SubdomainErrors } from "../../api/kinds/rules.js";
import { parseV4 } from "../../dataplane/compile/ipv4.js";
import type { PolicyProtocol } from "../../dataplane/compile/policy/types.js";

// ------------------------------------------------------------------------------------ arguments

/** A bad command-line argument: names the flag and the offending value. */
export class TraceArgError extends Error {
  override name = "TraceArgError";
  constructor(
    readonly flag: string,
    readonly value: string,
    detail: string,
  ) {
    super(`${flag} ${JSON.stringify(value)}: ${detail}`);
  }
}

/** The trace could not be composed from the cluster's objects (unknown pod, pod without address ...). */
export class TraceInputError extends Error {
  override name = "TraceInputError";
}

export interface PodRef {
  kind: "pod";
  namespace: string;
  name: string;
}
export interface IpRef {
  kind: "ip";
  ip: string;
}
export interface TraceTarget {
  dst: PodRef | IpRef;
  port: number;
  protocol: PolicyProtocol;
}

export const DEFAULT_PORT = 80;
export const DEFAULT_PROTOCOL: PolicyProtocol = "TCP";
const PROTOCOLS: Record<string, PolicyProtocol> = { tcp: "TCP", udp: "UDP", sctp: "SCTP" };

function parsePodRef(flag: string, whole: string, s: string): PodRef {
  const parts = s.split("/");
  if (parts.length !== 2) throw new TraceArgError(flag, whole, "expected <namespace>/<pod>");
  const [namespace, name] = parts as [string, string];
  const nsErr = dns1123LabelErrors(namespace);
  if (nsErr.length > 0)
    throw new TraceArgError(flag, whole, `namespace ${JSON.stringify(namespace)}: ${nsErr[0]}`);
  const podErr = dns1123SubdomainErrors(name);
  if (podErr.length > 0)
    throw new TraceArgError(flag, whole, `pod name ${JSON.stringify(name)}: ${podErr[0]}`);
  return { kind: "pod", namespace, name };
}

/** `--from <namespace>/<pod>` */
export function parseFrom(s: string): PodRef {
  return parsePodRef("--from", s, s);
}

/**
 * `--to <ip|namespace/pod>[:port][/proto]`. A trailing `/tcp|udp|sctp` is a protocol only when what
 * precedes it is an address or itself has a `/` (so `--to ns/tcp` stays the pod "tcp" of "ns").
 */
export function parseTo(s: string): TraceTarget {
  let rest = s;
  let protocol = DEFAULT_PROTOCOL;
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const tail = rest.slice(slash + 1);
    const head = rest.slice(0, slash);
    const proto = PROTOCOLS[tail.toLowerCase()];
    const headIsAddress = parseV4(head.replace(/:\d*$/, "")) !== undefined;
    if (proto && (headIsAddress || head.includes("/"))) {
      protocol = proto;
      rest = head;
    } else if (headIsAddress || /^[0-9.:]+$/.test(head)) {
      throw new TraceArgError("--to", s, `unknown protocol ${JSON.stringify(tail)} (tcp, udp or sctp)`);
    }
  }
  let port = DEFAULT_PORT;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0) {
    const p = rest.slice(colon + 1);
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)
      throw new TraceArgError("--to", s, `port ${JSON.stringify(p)} must be a number from 1 to 65535`);
    port = Number(p);
    rest = rest.slice(0, colon);
  }
  if (rest.includes("/")) return { dst: parsePodRef("--to", s, rest), port, protocol };
  if (parseV4(rest) !== undefined) return { dst: { kind: "ip", ip: rest }, port, protocol };
  if (rest.includes(":") || /^[0-9a-f:]+$/i.test(rest))
    throw new TraceArgError("--to", s, "only IPv4 destinations can be traced (the dataplane is IPv4 only)");
  throw new TraceArgError(
    "--to",
    s,
    "expected an IPv4 address or <namespace>/<pod>, optionally :port and /proto",
  );
}

export type OutputFormat = "text" | "json";

export function parseOutput(s: string): OutputFormat {
  if (s === "text" || s === "json") return s;
  throw new TraceArgError("--output", s, "expected text or json");
}
