// `egress apply -f FILE…`: create-or-update of manifests (YAML streams or JSON) through any
// Kubernetes-compatible API, without kubectl. Existing objects get a JSON merge patch of the
// manifest, so applying the same file twice changes nothing.
import { readFile } from "node:fs/promises";
import * as k8s from "@kubernetes/client-node";
import type { Command } from "commander";
import { parseAllDocuments } from "yaml";
import { isRecord } from "../api/object.js";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

export class ManifestError extends Error {
  override name = "ManifestError";
}

/** Parses a YAML stream or a JSON document into manifests; errors name the file and document. */
export function parseManifests(text: string, source: string): Manifest[] {
  const out: Manifest[] = [];
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    if (doc.errors.length > 0)
      throw new ManifestError(`${source}: document ${i + 1}: ${doc.errors[0]!.message.split("\n")[0]}`);
    const v: unknown = doc.toJS();
    if (v === null || v === undefined) return;
    if (
      !isRecord(v) ||
      typeof v.apiVersion !== "string" ||
      typeof v.kind !== "string" ||
      !isRecord(v.metadata) ||
      typeof v.metadata.name !== "string"
    ) {
      throw new ManifestError(
        `${source}: document ${i + 1}: apiVersion, kind and metadata.name are required`,
      );
    }
    out.push(v as unknown as Manifest);
  });
  return out;
}

export async function applyManifests(
  kc: k8s.KubeConfig,
  manifests: Manifest[],
  defaultNamespace = "default",
): Promise<string[]> {
  const client = k8s.KubernetesObjectApi.makeApiClient(kc);
  const lines: string[] = [];
  for (const m of manifests) {
    const spec = structuredClone(m);
    const label = `${m.kind.toLowerCase()}/${m.metadata.name}`;
    try {
      await client.read({
        apiVersion: spec.apiVersion,
        kind: spec.kind,
        metadata: { name: spec.metadata.name, namespace: spec.metadata.namespace ?? defaultNamespace },
      });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
      if (spec.metadata.namespace === undefined) spec.metadata.namespace = defaultNamespace;
      await client.create(spec);
      lines.push(`${label} created`);
      continue;
    }
    if (spec.metadata.namespace === undefined) spec.metadata.namespace = defaultNamespace;
    await client.patch(spec, undefined, undefined, "egress-apply", undefined, k8s.PatchStrategy.MergePatch);
    lines.push(`${label} applied`);
  }
  return lines;
}

export function registerApplyCommand(program: Command): void {
  program
    .command("apply")
    .description("create or update the objects in manifest files (YAML or JSON)")
    .requiredOption("-f, --filename <file...>", "manifest files")
    .requiredOption("--kubeconfig <file>", "kubeconfig of the API server")
    .option("-n, --namespace <ns>", "namespace for objects that name none", "default")
    .action(async (o: { filename: string[]; kubeconfig: string; namespace: string }) => {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(o.kubeconfig);
      for (const f of o.filename) {
        const manifests = parseManifests(await readFile(f, "utf8"), f);
        for (const line of await applyManifests(kc, manifests, o.namespace))
          process.stdout.write(`${line}\n`);
      }
    });
}
