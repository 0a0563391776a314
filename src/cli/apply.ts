// `egress apply -f FILE…`: create-or-update of manifests (YAML streams or JSON) through any
// Kubernetes-compatible API, without kubectl. Existing objects get a JSON merge patch of the
// manifest, so applying the same file twice changes nothing.
import { readFile } from "node:fs/promises";
import * as k8s from "@kubernetes/client-node";
import type { Command } from "commander";
import { parseAllDocuments } from "yaml";
import { findByKind } from "../api/kinds/index.js";
import { isRecord, type KubeObject } from "../api/object.js";
import { Client, isNotFound } from "../controllers/runtime/client.js";

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

/**
 * Creates each object, or merge-patches it when it exists. Objects travel as the manifest's own JSON
 * (the project's REST client): client-node's typed serializers rename or drop fields they model
 * differently (NetworkPolicy `from` became `_from` and was lost), so they are not used here.
 */
export async function applyManifests(
  kc: k8s.KubeConfig,
  manifests: Manifest[],
  defaultNamespace = "default",
): Promise<string[]> {
  const client = new Client(kc);
  const lines: string[] = [];
  for (const m of manifests) {
    const rt = findByKind(m.apiVersion, m.kind);
    if (!rt) throw new ManifestError(`${m.kind}/${m.metadata.name}: unknown kind ${m.apiVersion} ${m.kind}`);
    const obj = structuredClone(m) as unknown as KubeObject;
    if (rt.namespaced) obj.metadata.namespace ??= defaultNamespace;
    else delete obj.metadata.namespace;
    const ns = obj.metadata.namespace ?? "";
    const label = `${m.kind.toLowerCase()}/${m.metadata.name}`;
    try {
      await client.get(rt, ns, m.metadata.name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await client.create(rt, obj);
      lines.push(`${label} created`);
      continue;
    }
    await client.patch(rt, ns, m.metadata.name, obj, "merge");
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
