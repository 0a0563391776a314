// metallb.io/v1beta1 IPAddressPool, BGPAdvertisement, L2Advertisement and BGPPeer, as MetalLB's
// api/v1beta1 defines them. One departure: BGPAdvertisement also accepts `nodeSelector` (the
// misspelling seed 002 uses for `nodeSelectors`); use bgpAdvertisementNodeSelectors() to read both.
// Pure: no I/O.
import { type Static, Type } from "@sinclair/typebox";
import { type FieldError, invalid, required } from "../errors.js";
import { parseIP } from "../ip.js";
import { isRecord } from "../object.js";
import {
  as,
  Bool,
  dig,
  digArr,
  digStr,
  Int,
  Int64,
  joinOrNone,
  KindSchema,
  type LabelSelector,
  LabelSelectorSchema,
  OpenStruct,
  Opt,
  Str,
  Struct,
} from "./common.js";
import { column, defineKind } from "./define.js";
import { formatLabelSelector } from "./networking.js";
import { validateCIDR, validateIP, validateLabelSelector } from "./rules.js";

const Selectors = () => Type.Array(LabelSelectorSchema);
const EmptyStatus = () => Opt(OpenStruct({}));

// ------------------------------------------------------------------------------------ IPAddressPool

export const IPAddressPoolSchema = KindSchema(
  "IPAddressPool is a pool of addresses MetalLB assigns to LoadBalancer Services.",
  {
    spec: Struct({
      addresses: Type.Array(Str(), {
        description: "CIDRs (192.168.1.0/24) or ranges (192.168.1.10-192.168.1.20).",
      }),
      autoAssign: Opt(Bool()),
      avoidBuggyIPs: Opt(Bool()),
      serviceAllocation: Opt(
        Struct({
          priority: Opt(Int()),
          namespaces: Opt(Type.Array(Str())),
          namespaceSelectors: Opt(Selectors()),
          serviceSelectors: Opt(Selectors()),
        }),
      ),
    }),
    status: EmptyStatus(),
  },
);
export type IPAddressPool = Static<typeof IPAddressPoolSchema>;

/** A pool entry: CIDR, or "first-last" (same family, first ≤ last). Returns an error message. */
export function poolAddressError(s: string): string | undefined {
  const dash = s.indexOf("-");
  if (dash >= 0) {
    const a = parseIP(s.slice(0, dash).trim());
    const b = parseIP(s.slice(dash + 1).trim());
    if (!a || !b) return "invalid IP range: must be <first IP>-<last IP>";
    if (a.family !== b.family) return "invalid IP range: both ends must be of the same address family";
    if (a.value > b.value) return "invalid IP range: first address is after the last address";
    return undefined;
  }
  return validateCIDR(s, "").cidr
    ? undefined
    : "must be a CIDR (e.g. 192.168.10.0/24) or a range (e.g. 192.168.9.1-192.168.9.5)";
}

export const ipAddressPoolType = defineKind({
  group: "metallb.io",
  version: "v1beta1",
  kind: "IPAddressPool",
  plural: "ipaddresspools",
  namespaced: true,
  statusSubresource: true,
  hasGeneration: true,
  schema: IPAddressPoolSchema,
  openAPIName: "io.metallb.v1beta1.IPAddressPool",
  validate(obj) {
    const pool = as<IPAddressPool>(obj);
    const errs: FieldError[] = [];
    if (pool.spec.addresses.length === 0) errs.push(required("spec.addresses"));
    pool.spec.addresses.forEach((a, i) => {
      const e = poolAddressError(a);
      if (e) errs.push(invalid(`spec.addresses[${i}]`, a, e));
    });
    const sa = pool.spec.serviceAllocation;
    (sa?.namespaceSelectors ?? []).forEach((s, i) => {
      errs.push(...validateLabelSelector(s, `spec.serviceAllocation.namespaceSelectors[${i}]`));
    });
    (sa?.serviceSelectors ?? []).forEach((s, i) => {
      errs.push(...validateLabelSelector(s, `spec.serviceAllocation.serviceSelectors[${i}]`));
    });
    return errs;
  },
  defaults(obj) {
    if (!isRecord(obj.spec)) return;
    obj.spec.autoAssign ??= true;
    obj.spec.avoidBuggyIPs ??= false;
  },
  columns: [
    column(
      "Auto Assign",
      "boolean",
      "Assigned automatically",
      (o) => (dig(o, "spec", "autoAssign") as boolean | undefined) ?? true,
    ),
    column(
      "Avoid Buggy IPs",
      "boolean",
      "Skips .0 and .255",
      (o) => (dig(o, "spec", "avoidBuggyIPs") as boolean | undefined) ?? false,
    ),
    column("Addresses", "string", "Addresses", (o) => joinOrNone(digArr(o, "spec", "addresses"))),
  ],
});

// ------------------------------------------------------------------------------ BGP/L2 Advertisement

export const BGPAdvertisementSchema = KindSchema(
  "BGPAdvertisement says how pool addresses are announced over BGP.",
  {
    spec: Opt(
      Struct({
        aggregationLength: Opt(Int()),
        aggregationLengthV6: Opt(Int()),
        localPref: Opt(Int64()),
        communities: Opt(Type.Array(Str())),
        ipAddressPools: Opt(Type.Array(Str())),
        ipAddressPoolSelectors: Opt(Selectors()),
        nodeSelectors: Opt(Selectors()),
        nodeSelector: Opt(
          Type.Array(LabelSelectorSchema, {
            description: "Seed 002's spelling of nodeSelectors; same meaning.",
          }),
        ),
        peers: Opt(Type.Array(Str())),
      }),
    ),
    status: EmptyStatus(),
  },
);
export type BGPAdvertisement = Static<typeof BGPAdvertisementSchema>;

/** nodeSelectors plus the seed's `nodeSelector` spelling. */
export function bgpAdvertisementNodeSelectors(adv: BGPAdvertisement): LabelSelector[] {
  return [...(adv.spec?.nodeSelectors ?? []), ...(adv.spec?.nodeSelector ?? [])];
}

const selectorsText = (selectors: unknown[]): string | undefined => {
  const s = selectors.map(formatLabelSelector);
  return s.length > 0 ? s.join(" ") : undefined;
};

function validateSelectorLists(spec: Record<string, unknown> | undefined, fields: string[]): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of fields) {
    const list = spec?.[f];
    if (!Array.isArray(list)) continue;
    list.forEach((s: unknown, i) => {
      errs.push(...validateLabelSelector(s, `spec.${f}[${i}]`));
    });
  }
  return errs;
}

export const bgpAdvertisementType = defineKind({
  group: "metallb.io",
  version: "v1beta1",
  kind: "BGPAdvertisement",
  plural: "bgpadvertisements",
  namespaced: true,
  statusSubresource: true,
  hasGeneration: true,
  schema: BGPAdvertisementSchema,
  openAPIName: "io.metallb.v1beta1.BGPAdvertisement",
  validate(obj) {
    const spec = as<BGPAdvertisement>(obj).spec;
    const errs = validateSelectorLists(spec, ["ipAddressPoolSelectors", "nodeSelectors", "nodeSelector"]);
    if (
      spec?.aggregationLength !== undefined &&
      (spec.aggregationLength < 0 || spec.aggregationLength > 32)
    ) {
      errs.push(invalid("spec.aggregationLength", spec.aggregationLength, "must be between 0 and 32"));
    }
    if (
      spec?.aggregationLengthV6 !== undefined &&
      (spec.aggregationLengthV6 < 0 || spec.aggregationLengthV6 > 128)
    ) {
      errs.push(invalid("spec.aggregationLengthV6", spec.aggregationLengthV6, "must be between 0 and 128"));
    }
    if (spec?.localPref !== undefined && (spec.localPref < 0 || spec.localPref > 4294967295)) {
      errs.push(invalid("spec.localPref", spec.localPref, "must be between 0 and 4294967295"));
    }
    (spec?.communities ?? []).forEach((c, i) => {
      if (c === "") errs.push(required(`spec.communities[${i}]`));
    });
    return errs;
  },
  defaults(obj) {
    if (!isRecord(obj.spec)) return;
    obj.spec.aggregationLength ??= 32;
    obj.spec.aggregationLengthV6 ??= 128;
  },
  columns: [
    column("IPAddressPools", "string", "Pools", (o) => joinOrNone(digArr(o, "spec", "ipAddressPools"))),
    column("IPAddressPool Selectors", "string", "Pool selectors", (o) =>
      selectorsText(digArr(o, "spec", "ipAddressPoolSelectors")),
    ),
    column("Peers", "string", "Peers", (o) => joinOrNone(digArr(o, "spec", "peers"))),
    column(
      "Node Selectors",
      "string",
      "Node selectors",
      (o) => selectorsText([...digArr(o, "spec", "nodeSelectors"), ...digArr(o, "spec", "nodeSelector")]),
      1,
    ),
  ],
});

export const L2AdvertisementSchema = KindSchema(
  "L2Advertisement says how pool addresses are announced with ARP/NDP.",
  {
    spec: Opt(
      Struct({
        ipAddressPools: Opt(Type.Array(Str())),
        ipAddressPoolSelectors: Opt(Selectors()),
        nodeSelectors: Opt(Selectors()),
        interfaces: Opt(Type.Array(Str())),
      }),
    ),
    status: EmptyStatus(),
  },
);
export type L2Advertisement = Static<typeof L2AdvertisementSchema>;

export const l2AdvertisementType = defineKind({
  group: "metallb.io",
  version: "v1beta1",
  kind: "L2Advertisement",
  plural: "l2advertisements",
  namespaced: true,
  statusSubresource: true,
  hasGeneration: true,
  schema: L2AdvertisementSchema,
  openAPIName: "io.metallb.v1beta1.L2Advertisement",
  validate: (obj) =>
    validateSelectorLists(as<L2Advertisement>(obj).spec, ["ipAddressPoolSelectors", "nodeSelectors"]),
  columns: [
    column("IPAddressPools", "string", "Pools", (o) => joinOrNone(digArr(o, "spec", "ipAddressPools"))),
    column("IPAddressPool Selectors", "string", "Pool selectors", (o) =>
      selectorsText(digArr(o, "spec", "ipAddressPoolSelectors")),
    ),
    column("Interfaces", "string", "Interfaces", (o) => joinOrNone(digArr(o, "spec", "interfaces"))),
    column(
      "Node Selectors",
      "string",
      "Node selectors",
      (o) => selectorsText(digArr(o, "spec", "nodeSelectors")),
      1,
    ),
  ],
});

// ------------------------------------------------------------------------------------------ BGPPeer

export const BGPPeerSchema = KindSchema("BGPPeer is a BGP session MetalLB's speakers open.", {
  spec: Struct({
    myASN: Int64(),
    peerASN: Int64(),
    peerAddress: Str(),
    sourceAddress: Opt(Str()),
    peerPort: Opt(Int()),
    holdTime: Opt(Str()),
    keepaliveTime: Opt(Str()),
    routerID: Opt(Str()),
    nodeSelectors: Opt(Selectors()),
    password: Opt(Str()),
    passwordSecret: Opt(Struct({ name: Opt(Str()), namespace: Opt(Str()) })),
    bfdProfile: Opt(Str()),
    ebgpMultiHop: Opt(Bool()),
    vrf: Opt(Str()),
  }),
  status: EmptyStatus(),
});
export type BGPPeer = Static<typeof BGPPeerSchema>;

const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

export const bgpPeerType = defineKind({
  group: "metallb.io",
  version: "v1beta1",
  kind: "BGPPeer",
  plural: "bgppeers",
  namespaced: true,
  statusSubresource: true,
  hasGeneration: true,
  schema: BGPPeerSchema,
  openAPIName: "io.metallb.v1beta1.BGPPeer",
  validate(obj) {
    const spec = as<BGPPeer>(obj).spec;
    const errs = validateSelectorLists(spec, ["nodeSelectors"]);
    for (const f of ["myASN", "peerASN"] as const) {
      if (spec[f] < 0 || spec[f] > 4294967295)
        errs.push(invalid(`spec.${f}`, spec[f], "must be between 0 and 4294967295"));
    }
    errs.push(...validateIP(spec.peerAddress, "spec.peerAddress").errors);
    if (spec.sourceAddress) errs.push(...validateIP(spec.sourceAddress, "spec.sourceAddress").errors);
    if (spec.routerID) errs.push(...validateIP(spec.routerID, "spec.routerID", 4).errors);
    if (spec.peerPort !== undefined && (spec.peerPort < 0 || spec.peerPort > 16384)) {
      errs.push(invalid("spec.peerPort", spec.peerPort, "must be between 0 and 16384"));
    }
    for (const f of ["holdTime", "keepaliveTime"] as const) {
      const v = spec[f];
      if (v !== undefined && v !== "" && v !== "0" && !GO_DURATION.test(v)) {
        errs.push(invalid(`spec.${f}`, v, "must be a duration (e.g. 90s, 1m30s)"));
      }
    }
    if (spec.password && spec.passwordSecret?.name) {
      errs.push(invalid("spec.passwordSecret", spec.passwordSecret, "may not be set together with password"));
    }
    return errs;
  },
  columns: [
    column("Address", "string", "Peer address", (o) => digStr(o, "spec", "peerAddress")),
    column("ASN", "string", "Peer ASN", (o) => digStr(o, "spec", "peerASN")),
    column("BFD Profile", "string", "BFD profile", (o) => digStr(o, "spec", "bfdProfile")),
    column("Multi Hops", "string", "eBGP multi-hop", (o) => digStr(o, "spec", "ebgpMultiHop")),
  ],
});
