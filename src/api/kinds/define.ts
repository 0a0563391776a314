// Small constructors for ResourceType values and printer columns, so each kind file states only
// what differs from the common case. Pure: no I/O.
import type { KubeObject } from "../object.js";
import type { PrinterColumn, ResourceType } from "../resource.js";
import { type NameRule, validateObjectMeta } from "./rules.js";

type Defaulted =
  | "listKind"
  | "singular"
  | "shortNames"
  | "categories"
  | "aliases"
  | "columns"
  | "fieldSelectors"
  | "statusSubresource"
  | "builtin"
  | "hasGeneration";

export type KindDefinition = Omit<ResourceType, Defaulted> &
  Partial<Pick<ResourceType, Defaulted>> & {
    /** metadata.name syntax; default DNS-1123 subdomain (as Kubernetes for most kinds). */
    nameRule?: NameRule;
  };

/** Fills the common defaults and makes `validate` cover ObjectMeta (name syntax, labels,
 *  annotations, finalizers, owner references) before the kind's own rules. */
export function defineKind(d: KindDefinition): ResourceType {
  const { nameRule, validate, ...rest } = d;
  return {
    listKind: `${d.kind}List`,
    singular: d.kind.toLowerCase(),
    shortNames: [],
    categories: [],
    aliases: [],
    columns: [],
    fieldSelectors: {},
    statusSubresource: false,
    builtin: false,
    hasGeneration: false,
    ...rest,
    validate(obj, old) {
      return [...validateObjectMeta(obj.metadata, nameRule ? { nameRule } : {}), ...validate(obj, old)];
    },
  };
}

export function column(
  name: string,
  type: PrinterColumn["type"],
  description: string,
  cell: (obj: KubeObject) => string | number | boolean | null | undefined,
  priority = 0,
): PrinterColumn {
  return { name, type, description, priority, cell };
}
