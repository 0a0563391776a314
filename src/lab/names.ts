// Names of everything the lab creates, derived from the lab id, so several labs (and tests) can
// live side by side and `lab down` can recognise what belongs to one lab. The node agent imports
// podNetnsName() to name pod network namespaces the same way `lab exec` finds them.
// Pure: no I/O.
import { createHash } from "node:crypto";

/** Prefix of every network namespace of a lab: `egl-<id>-<part>`. */
export const LAB_NETNS_PREFIX = "egl";
/** Prefix of pod network namespaces created by the agents of a lab: `egp-<id>-<hash10>`. */
export const POD_NETNS_PREFIX = "egp";
/** Environment variable carrying the lab id into the processes the lab starts (agents use it to name
 *  pod namespaces). */
export const LAB_ID_ENV = "EGRESS_LAB_ID";

export const DEFAULT_LAB_ID = "main";

const LAB_ID = /^[a-z0-9]{1,12}$/;
/** Names of nodes, external hosts and networks in a topology: DNS-label-like, short enough to fit
 *  in namespace and interface names. */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$/;

export class LabNameError extends Error {
  override name = "LabNameError";
}

export function checkLabId(id: string): string {
  if (!LAB_ID.test(id))
    throw new LabNameError(`lab id ${JSON.stringify(id)}: expected 1-12 characters of [a-z0-9]`);
  return id;
}

export function isObjectName(name: string): boolean {
  return OBJECT_NAME.test(name);
}

/** Parts of a lab namespace that node and external host names may not take. */
export const RESERVED_PARTS = ["fabric", "cp"] as const;

export const fabricNetns = (id: string): string => `${LAB_NETNS_PREFIX}-${id}-fabric`;
export const controlPlaneNetns = (id: string): string => `${LAB_NETNS_PREFIX}-${id}-cp`;
/** Namespace of a node or external host (their names are unique across both lists). */
export const hostNetns = (id: string, name: string): string => `${LAB_NETNS_PREFIX}-${id}-${name}`;

/** The first `n` hex digits of SHA-256 over `text`. */
export function hashHex(text: string, n: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, n);
}

/** What the lab passes to `egress agent --netns-prefix`. */
export const podNetnsPrefix = (id: string): string => `${POD_NETNS_PREFIX}-${id}-`;

/** The network namespace of pod `<namespace>/<name>` in lab `id`:
 *  `egp-<id>-<first 10 hex digits of sha256("<namespace>/<name>")>` — the same name the agent
 *  (src/agent/kubelet/netns.ts, given the prefix above) creates. */
export function podNetnsName(id: string, namespace: string, name: string): string {
  return `${podNetnsPrefix(id)}${hashHex(`${namespace}/${name}`, 10)}`;
}

/** Does this netns name belong to lab `id` (its own namespaces and its agents' pod namespaces)?
 *  Lab ids are [a-z0-9] only, so `egl-ab-…` can never be taken for part of lab `a`. */
export function belongsToLab(id: string, netns: string): boolean {
  return (
    netns.startsWith(`${LAB_NETNS_PREFIX}-${id}-`) ||
    new RegExp(`^${POD_NETNS_PREFIX}-${id}-[0-9a-f]{10}$`).test(netns)
  );
}

export const bridgeName = (network: string): string => shortIfName("br", network);

/** Fabric bridge of a secondary network (`sn-<name>`; a separate prefix so it can never be taken
 *  for an underlay network's `br-<name>`). */
export const secondaryBridgeName = (network: string): string => shortIfName("sn", network);

/** Node-side end of a node's uplink veth into a secondary network (`up-<name>`), enslaved to the
 *  bridge the network's attachments name. */
export const uplinkName = (network: string): string => shortIfName("up", network);

/** Name of the fabric-side end of the veth that gives `owner` its interface `ifName` (Linux allows
 *  15 characters; long names fall back to a hash). */
export function fabricPortName(owner: string, ifName: string): string {
  return shortIfName(owner, ifName);
}

function shortIfName(a: string, b: string): string {
  const n = `${a}-${b}`;
  return n.length <= 15 ? n : `x${hashHex(n, 8)}-${b}`.slice(0, 15);
}
