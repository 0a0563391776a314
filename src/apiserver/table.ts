// Server-side `Table` rendering (meta.k8s.io/v1) for `kubectl get`: NAME, the kind's columns, AGE.
// Pure: no I/O.
import type { KubeObject } from "../api/object.js";
import type { PrinterColumn, ResourceType } from "../api/resource.js";

/** Kubernetes' duration.HumanDuration, as kubectl prints ages. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 192) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  const d = Math.floor(h / 24);
  if (d < 730) return `${d}d`;
  const y = Math.floor(d / 365);
  if (y < 8) return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
  return `${y}y`;
}

export function age(obj: KubeObject, now = Date.now()): string {
  const t = obj.metadata.creationTimestamp ? Date.parse(obj.metadata.creationTimestamp) : Number.NaN;
  return Number.isNaN(t) ? "<unknown>" : humanDuration(now - t);
}

const NAME: PrinterColumn = {
  name: "Name",
  type: "string",
  format: "name",
  description: "Name must be unique within a namespace.",
  priority: 0,
  cell: (o) => o.metadata.name,
};
const AGE: PrinterColumn = {
  name: "Age",
  type: "string",
  description: "Time since creation (creationTimestamp).",
  priority: 0,
  cell: (o) => age(o),
};

export type IncludeObject = "None" | "Metadata" | "Object";

function columnsOf(rt: ResourceType): PrinterColumn[] {
  // Kinds may place AGE themselves (e.g. before wide-only columns, like Pods); otherwise it goes last.
  const cols = rt.columns;
  const hasAge = cols.some((c) => c.name.toUpperCase() === "AGE");
  const normal = cols.filter((c) => c.priority === 0);
  const wide = cols.filter((c) => c.priority !== 0);
  return hasAge ? [NAME, ...cols] : [NAME, ...normal, AGE, ...wide];
}

export function renderTable(
  rt: ResourceType,
  items: KubeObject[],
  resourceVersion: string,
  include: IncludeObject,
  withHeaders = true,
  continueToken?: string,
): Record<string, unknown> {
  const cols = columnsOf(rt);
  const meta: Record<string, unknown> = { resourceVersion };
  if (continueToken) meta.continue = continueToken;
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: meta,
    columnDefinitions: withHeaders
      ? cols.map((c) => ({
          name: c.name,
          type: c.type === "date" ? "string" : c.type,
          format: c.format ?? "",
          description: c.description,
          priority: c.priority,
        }))
      : [],
    rows: items.map((o) => {
      const row: Record<string, unknown> = {
        cells: cols.map((c) => {
          let v: unknown;
          try {
            v = c.cell(o);
          } catch {
            v = undefined;
          }
          return v === undefined || v === null || v === "" ? (c.type === "string" ? "<none>" : null) : v;
        }),
      };
      if (include === "Object") row.object = o;
      else if (include === "Metadata") {
        row.object = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
      }
      return row;
    }),
  };
}
