// `egress apply` (src/cli/apply.ts) against the API server: every seed manifest is stored field for
// field as written (no client-side renaming or dropping of fields), a second apply is a no-op merge
// patch, and unknown kinds are refused with the kind named.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { findByKind } from "../../../src/api/kinds/index.js";
import { applyManifests, type Manifest, ManifestError, parseManifests } from "../../../src/cli/apply.js";
import { Client } from "../../../src/controllers/runtime/client.js";
import { EXAMPLES_DIR, startTestServer, type TestServer } from "../support/server.js";

/** True when every field of `want` is in `got` with the same value (the server may add fields; a
 *  `null` in a manifest means "unset", which the server may default, e.g. `podSelector:` → {}). */
function contains(got: unknown, want: unknown, path: string): void {
  if (want === null) return;
  if (want !== null && typeof want === "object" && !Array.isArray(want)) {
    assert.ok(got !== null && typeof got === "object", `${path}: missing`);
    for (const [k, v] of Object.entries(want))
      contains((got as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${path}: not a list`);
    assert.equal(got.length, want.length, `${path}: length`);
    for (const [i, v] of want.entries()) contains(got[i], v, `${path}[${i}]`);
  } else {
    assert.deepEqual(got, want, path);
  }
}

describe("egress apply", () => {
  let srv: TestServer;
  let kc: k8s.KubeConfig;
  before(async () => {
    srv = await startTestServer();
    kc = new k8s.KubeConfig();
    kc.loadFromFile(srv.kubeconfigPath);
  });
  after(async () => {
    await srv.stop();
  });

  it("stores every seed manifest as written; applying again changes nothing", async () => {
    const files = readdirSync(EXAMPLES_DIR).filter((f) => /\.(ya?ml|json)$/.test(f));
    const manifests: Manifest[] = files.flatMap((f) =>
      parseManifests(readFileSync(join(EXAMPLES_DIR, f), "utf8"), f),
    );
    // Namespaces first, as kubectl users apply them.
    manifests.sort((a, b) => Number(b.kind === "Namespace") - Number(a.kind === "Namespace"));
    const client = new Client(kc);
    // Seed 004's manifests name their namespace; create the ones they use but do not define.
    for (const ns of new Set(manifests.map((m) => m.metadata.namespace).filter((n) => n !== undefined)))
      if (!manifests.some((m) => m.kind === "Namespace" && m.metadata.name === ns))
        await applyManifests(kc, [{ apiVersion: "v1", kind: "Namespace", metadata: { name: ns! } }]);
    const first = await applyManifests(kc, manifests);
    assert.equal(first.length, manifests.length);
    for (const m of manifests) {
      const rt = findByKind(m.apiVersion, m.kind)!;
      const got = await client.get(
        rt,
        rt.namespaced ? (m.metadata.namespace ?? "default") : "",
        m.metadata.name,
      );
      const { metadata: _m, apiVersion: _a, ...fields } = m;
      contains(got, fields, `${m.kind}/${m.metadata.name}`);
    }
    // The seed's NetworkPolicy `from` survives (client-node's typed serializer dropped it).
    const np = manifests.find((m) => m.kind === "NetworkPolicy" && JSON.stringify(m).includes('"from"'));
    assert.ok(np, "a seed NetworkPolicy with ingress[].from");
    const before = await client.get(
      findByKind("networking.k8s.io/v1", "NetworkPolicy")!,
      np.metadata.namespace ?? "default",
      np.metadata.name,
    );
    const second = await applyManifests(kc, manifests);
    assert.ok(second.every((l) => l.endsWith(" applied")));
    const again = await client.get(
      findByKind("networking.k8s.io/v1", "NetworkPolicy")!,
      np.metadata.namespace ?? "default",
      np.metadata.name,
    );
    assert.equal(
      (again as { metadata: { resourceVersion?: string } }).metadata.resourceVersion,
      (before as { metadata: { resourceVersion?: string } }).metadata.resourceVersion,
      "a second apply of the same manifest does not write",
    );
  });

  it("refuses an unknown kind, naming it", async () => {
    await assert.rejects(
      applyManifests(kc, [{ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }]),
      (e: unknown) => e instanceof ManifestError && /example\.com\/v1 Widget/.test(e.message),
    );
  });
});
