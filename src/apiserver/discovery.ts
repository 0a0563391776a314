// Discovery documents (/api, /apis, /apis/<g>, /api/v1, /apis/<g>/<v>) built from the resource
// types, in the legacy (non-aggregated) form every kubectl and client library understands. Pure.
import type { ResourceType } from "../api/resource.js";
import { apiVersionOf } from "../api/resource.js";

export interface Served {
  rt: ResourceType;
  /** The group/version this entry is served under (the type's own or an alias). */
  group: string;
  version: string;
}

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export function servedEntries(types: readonly ResourceType[]): Served[] {
  return types.flatMap((rt) => [
    { rt, group: rt.group, version: rt.version },
    ...rt.aliases.map((a) => ({ rt, group: a.group, version: a.version })),
  ]);
}

export function groupVersions(served: Served[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const s of served) {
    if (!out.has(s.group)) out.set(s.group, new Set());
    out.get(s.group)!.add(s.version);
  }
  return out;
}

export function apiVersions(): Record<string, unknown> {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "" }],
  };
}

function groupDoc(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

export function apiGroupList(served: Served[]): Record<string, unknown> {
  const groups = [...groupVersions(served).entries()]
    .filter(([g]) => g !== "")
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([g, vs]) => groupDoc(g, [...vs].sort()));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

export function apiGroup(served: Served[], group: string): Record<string, unknown> | undefined {
  const vs = groupVersions(served).get(group);
  if (!vs || group === "") return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupDoc(group, [...vs].sort()) };
}

export function apiResourceList(
  served: Served[],
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const here = served.filter((s) => s.group === group && s.version === version);
  if (here.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const { rt } of here) {
    const r: Record<string, unknown> = {
      name: rt.plural,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: VERBS,
    };
    if (rt.shortNames.length > 0) r.shortNames = rt.shortNames;
    if (rt.categories.length > 0) r.categories = rt.categories;
    resources.push(r);
    if (rt.statusSubresource) {
      resources.push({
        name: `${rt.plural}/status`,
        singularName: "",
        namespaced: rt.namespaced,
        kind: rt.kind,
        verbs: ["get", "patch", "update"],
      });
    }
    if (rt.group === "" && rt.plural === "namespaces") {
      resources.push({
        name: "namespaces/finalize",
        singularName: "",
        namespaced: false,
        kind: "Namespace",
        verbs: ["update"],
      });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: apiVersionOf(group, version), resources };
}
