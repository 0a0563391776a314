// Reference evaluator of the policy semantics, written straight from the specification (MISSION §5,
// §6, §10; docs/policy.md) without any of the compiler's machinery (no sets, maps, classification):
// one packet, the view, and the resolved NetworkPolicy allow lists. The property test checks that
// tracePolicy(compilePolicyProgram(view)) agrees with it. Deliberately slow and simple. Pure: no I/O.
import { type CIDR, cidrContains, type IP, parseCIDR, parseIPv4 } from "../../../api/ip.js";
import { type LabelSelector, matchesLabelSelector } from "../../../api/selector.js";
import type { PolicyOrigin } from "./ir.js";
import type { PolicyTracePacket } from "./trace.js";
import type { AllowEntry, LocalPodPolicy, PolicyPod, PolicyView } from "./types.js";

export interface ReferenceResult {
  verdict: "accept" | "drop";
  decidedBy: PolicyOrigin;
  marked: boolean;
}

const v4 = (s: string): IP | undefined => {
  const value = parseIPv4(s);
  return value === undefined ? undefined : { family: 4, value };
};
const cidr4 = (s: string): CIDR | undefined => {
  const c = parseCIDR(s);
  return c?.family === 4 ? c : undefined;
};

export function referencePolicy(
  view: PolicyView,
  np: LocalPodPolicy[],
  pkt: PolicyTracePacket,
): ReferenceResult {
  const src = v4(pkt.src)!;
  const dst = v4(pkt.dst)!;
  const clusterCIDRs = view.clusterCIDRs.map((c) => cidr4(c)!);
  const podNet = (ip: IP) => clusterCIDRs.some((c) => cidrContains(c, ip));
  const podSubnet = cidr4(view.podSubnet)!;
  const multicast = cidrContains(cidr4("224.0.0.0/4")!, dst);
  // Inside for the admin mark: pods, services, nodes, multicast. Inside for egress firewalls: pods,
  // services and multicast only (node addresses are filtered, as OVN-Kubernetes does).
  const fwInside = podNet(dst) || cidrContains(cidr4(view.serviceCIDR)!, dst) || multicast;
  const inside = fwInside || view.nodes.some((n) => n.ips.some((s) => v4(s)?.value === dst.value));
  // The pod owning an address: the first by namespace/name among pods on the pod network.
  const podAt = (ip: IP): PolicyPod | undefined =>
    view.pods
      .filter((p) => v4(p.ip)?.value === ip.value && podNet(ip))
      .sort((a, b) => (a.namespace + "\0" + a.name < b.namespace + "\0" + b.name ? -1 : 1))[0];
  const steps: PolicyOrigin[] = [];
  const done = (verdict: "accept" | "drop", origin: PolicyOrigin, marked: boolean): ReferenceResult => ({
    verdict,
    decidedBy: origin,
    marked,
  });

  // Multitenant: pods meet when netids are equal or one is 0; unknown pods and pods without a netid
  // meet only netid-0 pods.
  if (view.mode === "multitenant" && podNet(src) && podNet(dst)) {
    const netid = (p: PolicyPod | undefined) =>
      p === undefined ? undefined : view.namespaces.find((n) => n.name === p.namespace)?.netid;
    const sp = podAt(src);
    const dp = podAt(dst);
    const sn = netid(sp);
    const dn = netid(dp);
    if (sn === 0 || dn === 0) steps.push({ kind: "multitenant", verdict: "allow", reason: "global" });
    else if (sp === undefined)
      return done("drop", { kind: "multitenant", verdict: "drop", reason: "unknown-pod" }, false);
    else if (sn === undefined)
      return done("drop", { kind: "multitenant", verdict: "drop", reason: "no-netid" }, false);
    else if (dn === sn && dp !== undefined)
      steps.push({ kind: "multitenant", verdict: "allow", reason: "same-netid", netid: sn });
    else
      return done("drop", { kind: "multitenant", verdict: "drop", reason: "other-netid", netid: sn }, false);
  }

  const marked = cidrContains(podSubnet, src) && !inside;
  if (multicast) return done("accept", { kind: "multicast" }, marked);
  if (pkt.state === "established") return done("accept", { kind: "conntrack" }, marked);

  if (view.mode === "networkpolicy") {
    const allows = (e: AllowEntry, peer: IP): boolean => {
      const n = Number(peer.value);
      if (e.peers !== "any" && !e.peers.some((r) => r.start <= n && n <= r.end)) return false;
      if (e.protocol === undefined) return true;
      if (e.protocol !== pkt.protocol) return false;
      const port = pkt.dport ?? 0;
      return e.ports === undefined || (e.ports[0] <= port && port <= e.ports[1]);
    };
    const sp = np.filter((p) => p.egressIsolated).find((p) => p.ip === Number(src.value));
    if (sp) {
      const e = sp.egress.find((x) => allows(x, dst));
      if (!e) return done("drop", { kind: "networkpolicy-isolation", direction: "egress" }, marked);
      steps.push({ kind: "networkpolicy", ...e.origin });
    }
    const dp = np.filter((p) => p.ingressIsolated).find((p) => p.ip === Number(dst.value));
    if (dp) {
      const e = dp.ingress.find((x) => allows(x, src));
      if (!e) return done("drop", { kind: "networkpolicy-isolation", direction: "ingress" }, marked);
      steps.push({ kind: "networkpolicy", ...e.origin });
    }
  }

  const passed = (): ReferenceResult =>
    done("accept", steps[steps.length - 1] ?? { kind: "default" }, marked);
  if (!(cidrContains(podSubnet, src) && !fwInside)) return passed();
  if (
    (pkt.protocol === "UDP" || pkt.protocol === "TCP") &&
    pkt.dport === 53 &&
    view.dnsServers.some((s) => v4(s)?.value === dst.value)
  )
    return done("accept", { kind: "dns" }, marked);
  const pod = podAt(src);
  if (!pod?.local) return passed();
  const fws = view.egressFirewalls.filter((f) => f.namespace === pod.namespace && f.effect !== "Ignored");
  if (fws.length === 0) return passed();
  if (fws.length > 1 || fws[0]!.effect === "DropAll") {
    const names = fws.map((f) => `${f.kind}/${f.name}`).sort();
    return done(
      "drop",
      { kind: "egressfirewall-dropall", namespace: pod.namespace, firewalls: names },
      marked,
    );
  }
  const fw = fws[0]!;
  const where = { namespace: fw.namespace, firewallKind: fw.kind, name: fw.name };
  for (const [i, r] of fw.rules.entries()) {
    let to = false;
    if (r.cidrSelector !== undefined) {
      const c = cidr4(r.cidrSelector);
      to = c !== undefined && cidrContains(c, dst);
    } else if (r.dnsName !== undefined) to = (r.dnsAddresses ?? []).some((a) => v4(a)?.value === dst.value);
    else if (r.nodeSelector !== undefined)
      to = view.nodes.some(
        (n) =>
          matchesLabelSelector(r.nodeSelector as LabelSelector, n.labels) &&
          n.ips.some((s) => v4(s)?.value === dst.value),
      );
    if (!to) continue;
    if (
      r.ports &&
      r.ports.length > 0 &&
      !r.ports.some((p) => p.protocol === pkt.protocol && p.port === pkt.dport)
    )
      continue;
    return done(
      r.type === "Allow" ? "accept" : "drop",
      { kind: "egressfirewall", ...where, rule: i, type: r.type },
      marked,
    );
  }
  return done("accept", { kind: "egressfirewall-nomatch", ...where }, marked);
}
