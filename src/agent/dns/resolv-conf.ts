// A pod's resolv.conf, decided as the kubelet does (pkg/kubelet/network/dns): `dnsPolicy`
// ClusterFirst (the default) → the cluster DNS with the search path `<ns>.svc.<domain>
// svc.<domain> <domain>` and `ndots:5`; Default → the node's resolvers; None → only the pod's
// `dnsConfig`, which is merged into the others (nameservers and searches appended, options by name).
// Pure: the caller writes the file.

export interface PodDnsSpec {
  namespace: string;
  dnsPolicy?: string;
  hostNetwork?: boolean;
  dnsConfig?: {
    nameservers?: string[];
    searches?: string[];
    options?: { name?: string; value?: string }[];
  };
}

export interface NodeDnsSettings {
  /** The cluster DNS nameservers (the node's cluster DNS address); empty = none runs. */
  clusterNameservers: string[];
  /** The node's own resolvers (dnsPolicy Default, and ClusterFirst without cluster DNS). */
  nodeNameservers: string[];
  clusterDomain: string;
}

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

/** Kubelet's limits: glibc reads at most 3 nameservers; 32 search domains of 2048 bytes in all. */
export const MAX_NAMESERVERS = 3;
export const MAX_SEARCHES = 32;
export const MAX_SEARCH_CHARS = 2048;

const unique = (xs: string[]) => [...new Set(xs)];

export function podResolvConf(pod: PodDnsSpec, node: NodeDnsSettings): ResolvConf {
  const policy = pod.dnsPolicy ?? "ClusterFirst";
  const cluster =
    (policy === "ClusterFirst" && !pod.hostNetwork) || policy === "ClusterFirstWithHostNet"
      ? node.clusterNameservers.length > 0
      : false;
  let base: ResolvConf;
  if (policy === "None") base = { nameservers: [], searches: [], options: [] };
  else if (cluster) {
    const d = node.clusterDomain;
    base = {
      nameservers: [...node.clusterNameservers],
      searches: [`${pod.namespace}.svc.${d}`, `svc.${d}`, d],
      options: ["ndots:5"],
    };
  } else base = { nameservers: [...node.nodeNameservers], searches: [], options: [] };

  const cfg = pod.dnsConfig ?? {};
  const nameservers = unique([...base.nameservers, ...(cfg.nameservers ?? [])]).slice(0, MAX_NAMESERVERS);
  const searches: string[] = [];
  let chars = 0;
  for (const s of unique([...base.searches, ...(cfg.searches ?? [])])) {
    if (searches.length >= MAX_SEARCHES || chars + s.length + 1 > MAX_SEARCH_CHARS) break;
    searches.push(s);
    chars += s.length + 1;
  }
  // Options: one per name, the pod's value winning, in first-seen order.
  const opts = new Map<string, string>();
  for (const o of base.options) {
    const [name = "", value] = o.split(":");
    opts.set(name, value === undefined ? name : `${name}:${value}`);
  }
  for (const o of cfg.options ?? []) {
    if (!o.name) continue;
    opts.set(o.name, o.value !== undefined && o.value !== "" ? `${o.name}:${o.value}` : o.name);
  }
  return { nameservers, searches, options: [...opts.values()] };
}

export function renderResolvConf(r: ResolvConf): string {
  const lines = r.nameservers.map((n) => `nameserver ${n}`);
  if (r.searches.length > 0) lines.push(`search ${r.searches.join(" ")}`);
  if (r.options.length > 0) lines.push(`options ${r.options.join(" ")}`);
  return `${lines.join("\n")}\n`;
}
