// The project template: which namespaces get the default NetworkPolicies and which policies they
// are. The template is the ConfigMap `project-template` in `openshift-config`; every data key
// ending in .yaml/.yml/.json holds one or more NetworkPolicy manifests (YAML documents),
// `${PROJECT_NAME}` is replaced by the namespace's name. Pure: no I/O (YAML text in, objects out).
import { parseAllDocuments } from "yaml";
import { isRecord, type KubeObject } from "../../api/object.js";

/** The template parameter replaced by the namespace's name (OpenShift template syntax). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: OpenShift template parameter syntax, literally.
const PROJECT_NAME_PARAM = "${PROJECT_NAME}";

export const TEMPLATE_NAMESPACE = "openshift-config";
export const TEMPLATE_NAME = "project-template";
/** Set on a namespace once its template policies were created (never applied twice). */
export const TEMPLATE_APPLIED_ANNOTATION = "egress.openshift.io/project-template-applied";

/** The seed's two policies (004 §6.8.2), one data key each so they can be edited separately. */
export const DEFAULT_TEMPLATE_DATA: Record<string, string> = {
  "allow-from-same-namespace.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-from-same-namespace
spec:
  podSelector:
  ingress:
  - from:
    - podSelector: {}
`,
  "allow-from-default-namespace.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-from-default-namespace
spec:
  podSelector:
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          name: default
`,
};

export interface TemplateNamespace {
  name: string;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
  terminating: boolean;
}

/** Why a namespace does not get the template (undefined: it does). Namespaces older than the
 *  template are left alone so that installing the controller never changes existing projects. */
export function templateSkipReason(
  ns: TemplateNamespace,
  templateCreated: string | undefined,
): string | undefined {
  if (
    ns.name === "default" ||
    ns.name.startsWith("kube-") ||
    ns.name.startsWith("openshift-") ||
    ns.name === "openshift"
  )
    return "system namespace";
  if (ns.terminating) return "terminating";
  if (ns.annotations?.[TEMPLATE_APPLIED_ANNOTATION] !== undefined) return "already applied";
  if (templateCreated === undefined) return "no template";
  const t = Date.parse(templateCreated);
  const c = ns.creationTimestamp ? Date.parse(ns.creationTimestamp) : Number.NaN;
  if (!Number.isNaN(t) && !Number.isNaN(c) && c < t) return "created before the template";
  return undefined;
}

export class TemplateError extends Error {
  override name = "TemplateError";
  constructor(
    readonly key: string,
    readonly document: number,
    detail: string,
  ) {
    super(`project template data[${JSON.stringify(key)}] document ${document + 1}: ${detail}`);
  }
}

/** The NetworkPolicies of the template for `project`, in key order; bad documents are reported
 *  and skipped (the others still apply). */
export function templatePolicies(
  data: Record<string, string> | undefined,
  project: string,
): { policies: KubeObject[]; errors: TemplateError[] } {
  const policies: KubeObject[] = [];
  const errors: TemplateError[] = [];
  for (const key of Object.keys(data ?? {}).sort()) {
    if (!/\.(ya?ml|json)$/.test(key)) continue;
    const text = (data?.[key] ?? "").replaceAll(PROJECT_NAME_PARAM, project);
    parseAllDocuments(text).forEach((doc, i) => {
      if (doc.errors.length > 0) {
        errors.push(new TemplateError(key, i, doc.errors[0]?.message ?? "invalid YAML"));
        return;
      }
      const v: unknown = doc.toJS();
      if (v === null || v === undefined) return;
      if (!isRecord(v) || !isRecord(v.metadata) || typeof v.metadata.name !== "string") {
        errors.push(new TemplateError(key, i, "not an object with metadata.name"));
        return;
      }
      if (v.kind !== "NetworkPolicy" || v.apiVersion !== "networking.k8s.io/v1") {
        errors.push(
          new TemplateError(
            key,
            i,
            `only networking.k8s.io/v1 NetworkPolicy is supported, got ${String(v.apiVersion)} ${String(v.kind)}`,
          ),
        );
        return;
      }
      const obj = structuredClone(v) as KubeObject;
      obj.metadata.namespace = project;
      policies.push(obj);
    });
  }
  return { policies, errors };
}
