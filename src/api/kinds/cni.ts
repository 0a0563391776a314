// Secondary-network kinds: k8s.cni.cncf.io/v1 NetworkAttachmentDefinition (Multus) and the
// Whereabouts IPAM store, whereabouts.cni.cncf.io/v1alpha1 IPPool and OverlappingRangeIPReservation.
// Field names follow the upstream CRDs. Pure: no I/O (the CNI config is only parsed as JSON here).
import type { Static } from "@sinclair/typebox";
import { type FieldError, invalid, required } from "../errors.js";
import { isRecord } from "../object.js";
import { as, digStr, KindSchema, MapOf, Opt, Str, Struct } from "./common.js";
import { column, defineKind } from "./define.js";
import { validateCIDR } from "./rules.js";

// -------------------------------------------------------------------------- NetworkAttachmentDefinition

export const NetworkAttachmentDefinitionSchema = KindSchema(
  "NetworkAttachmentDefinition holds a CNI configuration that pods attach to with the k8s.v1.cni.cncf.io/networks annotation.",
  { spec: Opt(Struct({ config: Opt(Str("CNI configuration JSON (a plugin or a plugin list).")) })) },
);
export type NetworkAttachmentDefinition = Static<typeof NetworkAttachmentDefinitionSchema>;

export const networkAttachmentDefinitionType = defineKind({
  group: "k8s.cni.cncf.io",
  version: "v1",
  kind: "NetworkAttachmentDefinition",
  plural: "network-attachment-definitions",
  singular: "network-attachment-definition",
  shortNames: ["net-attach-def"],
  namespaced: true,
  hasGeneration: true,
  schema: NetworkAttachmentDefinitionSchema,
  openAPIName: "io.cncf.cni.k8s.v1.NetworkAttachmentDefinition",
  validate(obj) {
    const nad = as<NetworkAttachmentDefinition>(obj);
    const config = nad.spec?.config;
    // An empty config refers to a configuration file on the node (Multus behaviour).
    if (config === undefined || config.trim() === "") return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(config);
    } catch (e) {
      return [invalid("spec.config", config, `must be valid JSON: ${(e as Error).message}`)];
    }
    if (!isRecord(parsed)) return [invalid("spec.config", config, "must be a JSON object")];
    const errs: FieldError[] = [];
    if (parsed.type === undefined && parsed.plugins === undefined) {
      errs.push(
        invalid("spec.config", config, 'must have a "type" (single plugin) or "plugins" (plugin list)'),
      );
    }
    if (parsed.plugins !== undefined && !Array.isArray(parsed.plugins)) {
      errs.push(invalid("spec.config", config, '"plugins" must be a list'));
    }
    return errs;
  },
});

// --------------------------------------------------------------------------------------------- IPPool

export const IPAllocationSchema = Struct({
  id: Str("Container ID."),
  podref: Str("namespace/name of the pod."),
  ifname: Opt(Str()),
});
export type IPAllocation = Static<typeof IPAllocationSchema>;

export const IPPoolSchema = KindSchema("IPPool holds the Whereabouts allocations of one range.", {
  spec: Struct({
    range: Str("The range as a network CIDR."),
    allocations: MapOf(IPAllocationSchema, "Allocations by offset from the range's network address."),
  }),
});
export type IPPool = Static<typeof IPPoolSchema>;

export const ipPoolType = defineKind({
  group: "whereabouts.cni.cncf.io",
  version: "v1alpha1",
  kind: "IPPool",
  plural: "ippools",
  namespaced: true,
  hasGeneration: true,
  schema: IPPoolSchema,
  openAPIName: "io.cncf.cni.whereabouts.v1alpha1.IPPool",
  validate(obj) {
    const pool = as<IPPool>(obj);
    const errs: FieldError[] = [];
    if (pool.spec.range === "") return [required("spec.range")];
    const { errors, cidr } = validateCIDR(pool.spec.range, "spec.range");
    errs.push(...errors);
    const size = cidr ? 1n << BigInt((cidr.family === 4 ? 32 : 128) - cidr.prefix) : undefined;
    for (const [key, a] of Object.entries(pool.spec.allocations)) {
      const p = `spec.allocations[${key}]`;
      if (!/^(0|[1-9]\d*)$/.test(key))
        errs.push(invalid(p, key, "key must be a decimal offset into the range"));
      else if (size !== undefined && BigInt(key) >= size)
        errs.push(invalid(p, key, `offset must be smaller than the range size ${size}`));
      if (a.podref === "") errs.push(required(`${p}.podref`));
    }
    return errs;
  },
  columns: [column("Range", "string", "Range", (o) => digStr(o, "spec", "range"))],
});

// ------------------------------------------------------------------------ OverlappingRangeIPReservation

export const OverlappingRangeIPReservationSchema = KindSchema(
  "OverlappingRangeIPReservation reserves one address across all ranges (name = the address, ':' written as '-').",
  {
    spec: Struct({
      containerid: Opt(Str()),
      podref: Str(),
      ifname: Opt(Str()),
    }),
  },
);
export type OverlappingRangeIPReservation = Static<typeof OverlappingRangeIPReservationSchema>;

export const overlappingRangeIPReservationType = defineKind({
  group: "whereabouts.cni.cncf.io",
  version: "v1alpha1",
  kind: "OverlappingRangeIPReservation",
  plural: "overlappingrangeipreservations",
  namespaced: true,
  hasGeneration: true,
  schema: OverlappingRangeIPReservationSchema,
  openAPIName: "io.cncf.cni.whereabouts.v1alpha1.OverlappingRangeIPReservation",
  validate(obj) {
    const r = as<OverlappingRangeIPReservation>(obj);
    return r.spec.podref === "" ? [required("spec.podref")] : [];
  },
  columns: [
    column("Pod", "string", "namespace/name of the pod", (o) => digStr(o, "spec", "podref")),
    column("Interface", "string", "Interface", (o) => digStr(o, "spec", "ifname"), 1),
  ],
});
