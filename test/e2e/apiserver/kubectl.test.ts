// Real kubectl (the default binary, 1.27 and 1.33) against `egress server`: apply of every seed
// example, re-apply, get/describe/watch, label/annotate/patch, status subresource, dry runs,
// namespace deletion, protobuf bodies, and validation errors naming the field.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Kubectl } from "../support/kubectl.js";
import { EXAMPLES_DIR, startTestServer, type TestServer } from "../support/server.js";

const exampleFiles = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith(".yaml") || f.endsWith(".json"))
  .sort()
  .map((f) => join(EXAMPLES_DIR, f));

function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (pred()) return resolve();
      if (Date.now() - start > ms) return reject(new Error("timed out"));
      setTimeout(tick, 50);
    };
    tick();
  });
}

describe("kubectl against egress server", () => {
  let srv: TestServer;
  let k: Kubectl;
  before(async () => {
    srv = await startTestServer();
    k = new Kubectl(srv.kubeconfigPath);
    // The seed's user namespaces (OpenShift projects the user would have created).
    await k.ok(["create", "namespace", "example-namespace"]);
    await k.ok(["create", "namespace", "test-namespace"]);
  });
  after(async () => {
    await srv?.stop();
  });

  test("apply -f every seed example unchanged, then re-apply is a no-op", async () => {
    for (const f of exampleFiles) {
      const out = await k.ok(["apply", "-f", f]);
      assert.match(out, /created|configured/, `${f}: ${out}`);
    }
    // Re-apply changes nothing on the server (kubectl may still say "configured" where the stored
    // form normalises the manifest, e.g. `podSelector:` → `{}`, exactly as against Kubernetes).
    const versions = async () =>
      await k.ok([
        "get",
        "all,egressip,egressservice,networkpolicy,net-attach-def,configmap,route,ipaddresspool,bgpadvertisement,egressnetworkpolicy",
        "-A",
        "-o",
        'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}',
      ]);
    const before = await versions();
    for (const f of exampleFiles) {
      const out = await k.ok(["apply", "-f", f]);
      for (const line of out.trim().split("\n"))
        assert.match(line, /(unchanged|configured)$/, `${f}: ${line}`);
    }
    assert.equal(await versions(), before);
    const policies = await k.ok(["apply", "-f", join(EXAMPLES_DIR, "000-egressip.yaml")]);
    for (const line of policies.trim().split("\n")) assert.match(line, /unchanged$/, line);
  });

  test("apply of a changed field patches the object", async () => {
    const yaml = readFileSync(join(EXAMPLES_DIR, "000-egressip.yaml"), "utf8").replace(
      "- 192.168.126.102",
      "- 192.168.126.103",
    );
    const out = await k.ok(["apply", "-f", "-"], yaml);
    assert.match(out, /egressip.k8s.ovn.org\/egressips-prod configured/);
    const ips = await k.ok(["get", "egressip", "egressips-prod", "-o", "jsonpath={.spec.egressIPs}"]);
    assert.deepEqual(JSON.parse(ips), ["192.168.126.10", "192.168.126.103"]);
    await k.ok(["apply", "-f", join(EXAMPLES_DIR, "000-egressip.yaml")]);
    const back = await k.ok(["get", "egressip", "egressips-prod", "-o", "jsonpath={.spec.egressIPs}"]);
    assert.deepEqual(JSON.parse(back), ["192.168.126.10", "192.168.126.102"]);
  });

  test("the legacy v1 EgressNetworkPolicy is served under both API versions", async () => {
    const legacy = JSON.parse(
      await k.ok(["get", "egressnetworkpolicy", "default", "-n", "default", "-o", "json"]),
    );
    assert.equal(legacy.kind, "EgressNetworkPolicy");
    const modern = JSON.parse(
      await k.ok([
        "get",
        "egressnetworkpolicies.network.openshift.io",
        "default",
        "-n",
        "default",
        "-o",
        "json",
      ]),
    );
    assert.equal(modern.apiVersion, "network.openshift.io/v1");
    assert.equal(modern.spec.egress[1].to.dnsName, "www.foo.com");
  });

  test("get shows per-kind columns", async () => {
    const eip = await k.ok(["get", "egressip"]);
    assert.match(eip.split("\n")[0]!, /NAME\s+EGRESSIPS\s+ASSIGNED NODE/);
    assert.match(eip, /egressips-prod\s+192\.168\.126\.10/);
    const pods = await k.ok(["get", "pods", "-n", "default"]);
    assert.match(pods.split("\n")[0]!, /NAME\s+READY\s+STATUS/);
    assert.match(pods, /egress-multi/);
    const svc = await k.ok(["get", "svc", "egress-1", "-n", "default"]);
    assert.match(svc, /egress-1\s+ClusterIP\s+172\.30\.\d+\.\d+/);
  });

  test("get -o yaml prints the stored object with server fields", async () => {
    const y = await k.ok(["get", "egressip", "egressips-prod", "-o", "yaml"]);
    assert.match(y, /apiVersion: k8s.ovn.org\/v1/);
    assert.match(y, /uid: [0-9a-f-]{36}/);
    assert.match(y, /resourceVersion: "\d+"/);
    assert.match(y, /creationTimestamp: "\d{4}-\d\d-\d\dT/);
  });

  test("label and annotate", async () => {
    await k.ok(["label", "namespace", "namespace1", "team=blue"]);
    assert.equal(await k.ok(["get", "ns", "namespace1", "-o", "jsonpath={.metadata.labels.team}"]), "blue");
    await k.ok(["label", "namespace", "namespace1", "team-"]);
    assert.equal(await k.ok(["get", "ns", "namespace1", "-o", "jsonpath={.metadata.labels.team}"]), "");
    await k.ok(["annotate", "egressip", "egressips-prod", "note=hello"]);
    assert.equal(
      await k.ok(["get", "egressip", "egressips-prod", "-o", "jsonpath={.metadata.annotations.note}"]),
      "hello",
    );
  });

  test("patch: merge, json, strategic, and the status subresource", async () => {
    await k.ok([
      "patch",
      "egressip",
      "egressips-prod",
      "--type=merge",
      "-p",
      '{"spec":{"podSelector":{"matchLabels":{"app":"db"}}}}',
    ]);
    assert.equal(
      await k.ok(["get", "egressip", "egressips-prod", "-o", "jsonpath={.spec.podSelector.matchLabels.app}"]),
      "db",
    );
    await k.ok([
      "patch",
      "egressip",
      "egressips-prod",
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/spec/podSelector"}]',
    ]);
    assert.equal(await k.ok(["get", "egressip", "egressips-prod", "-o", "jsonpath={.spec.podSelector}"]), "");
    // Strategic merge on a built-in kind: containers merge by name.
    await k.ok([
      "patch",
      "pod",
      "egress-multi",
      "-n",
      "default",
      "-p",
      '{"spec":{"containers":[{"name":"egress-router-wait","image":"registry.redhat.io/openshift4/ose-pod:v2"}]}}',
    ]);
    const images = await k.ok([
      "get",
      "pod",
      "egress-multi",
      "-n",
      "default",
      "-o",
      "jsonpath={.spec.containers[*].image}",
    ]);
    assert.equal(images, "registry.redhat.io/openshift4/ose-pod:v2");
    const init = await k.ok([
      "get",
      "pod",
      "egress-multi",
      "-n",
      "default",
      "-o",
      "jsonpath={.spec.initContainers[0].name}",
    ]);
    assert.equal(init, "egress-router");
    // EgressIP has no status subresource (as the OVN-Kubernetes CRD): status is written directly.
    await k.ok([
      "patch",
      "egressip",
      "egressips-prod",
      "--type=merge",
      "-p",
      '{"status":{"items":[{"node":"n1","egressIP":"192.168.126.10"}]}}',
    ]);
    const row = await k.ok(["get", "egressip", "egressips-prod", "--no-headers"]);
    assert.match(row, /egressips-prod\s+192\.168\.126\.10\S*\s+n1/);
    // EgressService has one: the main endpoint ignores status, /status takes it.
    const es = ["egressservice", "example-service", "-n", "example-namespace"];
    await k.ok(["patch", ...es, "--type=merge", "-p", '{"status":{"host":"n1"}}']);
    assert.equal(await k.ok(["get", ...es, "-o", "jsonpath={.status.host}"]), "");
    await k.ok(["patch", ...es, "--subresource=status", "--type=merge", "-p", '{"status":{"host":"n1"}}']);
    assert.equal(await k.ok(["get", ...es, "-o", "jsonpath={.status.host}"]), "n1");
  });

  test("--dry-run=server validates without persisting", async () => {
    const out = await k.ok([
      "create",
      "configmap",
      "dry",
      "-n",
      "default",
      "--from-literal=a=b",
      "--dry-run=server",
    ]);
    assert.match(out, /configmap\/dry created \(server dry run\)/);
    const r = await k.run(["get", "configmap", "dry", "-n", "default"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not found/);
  });

  test("an invalid object is rejected with a message naming the field and value", async () => {
    const bad = `apiVersion: k8s.ovn.org/v1
kind: EgressIP
metadata: {name: bad-eip}
spec:
  egressIPs: ["192.168.126.10/24"]
  namespaceSelector: {matchLabels: {env: prod}}
`;
    const err = await k.fails(["apply", "-f", "-"], bad);
    assert.match(err, /spec\.egressIPs\[0\]/);
    assert.match(err, /192\.168\.126\.10\/24/);
    const fw = `apiVersion: k8s.ovn.org/v1
kind: EgressFirewall
metadata: {name: notdefault, namespace: default}
spec:
  egress: [{type: Allow, to: {cidrSelector: 1.2.3.0/24}}]
`;
    const err2 = await k.fails(["apply", "-f", "-"], fw);
    assert.match(err2, /metadata\.name/);
  });

  test("unknown fields are refused by kubectl's strict field validation", async () => {
    const y = `apiVersion: v1
kind: ConfigMap
metadata: {name: typo, namespace: default}
dataa: {a: b}
`;
    const err = await k.fails(["apply", "-f", "-"], y);
    assert.match(err, /unknown field "dataa"/);
  });

  test("get -w streams changes", async () => {
    const w = k.spawn(["get", "configmaps", "-n", "default", "-w"]);
    let out = "";
    w.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes("NAME"), 10_000);
      await k.ok(["create", "configmap", "watched", "-n", "default", "--from-literal=x=y"]);
      await waitFor(() => out.includes("watched"), 10_000);
    } finally {
      w.kill();
    }
    assert.match(out, /watched\s+1\s+/);
  });

  test("describe shows the object and its events", async () => {
    const uid = await k.ok(["get", "pod", "egress-multi", "-n", "default", "-o", "jsonpath={.metadata.uid}"]);
    const ev = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "egress-multi.1", namespace: "default" },
      involvedObject: { kind: "Pod", namespace: "default", name: "egress-multi", apiVersion: "v1", uid },
      reason: "TestReason",
      message: "something a user must see",
      type: "Normal",
      source: { component: "egress-test" },
      firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      count: 1,
    };
    await k.ok(["create", "-f", "-"], JSON.stringify(ev));
    const d = await k.ok(["describe", "pod", "egress-multi", "-n", "default"]);
    assert.match(d, /Name:\s+egress-multi/);
    assert.match(d, /TestReason/);
    assert.match(d, /something a user must see/);
    const e = await k.ok(["describe", "egressip", "egressips-prod"]);
    assert.match(e, /Egress I Ps|Egress IPs|EgressIPs|egressIPs/i);
    assert.match(e, /192\.168\.126\.10/);
  });

  test("deleting a namespace deletes what is in it", async () => {
    await k.ok(["create", "namespace", "doomed"]);
    await k.ok(["create", "configmap", "c1", "-n", "doomed", "--from-literal=a=b"]);
    await k.ok(["apply", "-n", "doomed", "-f", join(EXAMPLES_DIR, "004-network-policies.yaml")]);
    const out = await k.ok(["delete", "namespace", "doomed", "--timeout=30s"]);
    assert.match(out, /namespace "doomed" deleted/);
    const r = await k.run(["get", "namespace", "doomed"]);
    assert.match(r.stderr, /not found/);
    const left = await k.ok(["get", "configmaps,networkpolicies", "-n", "doomed", "-o", "name"]);
    assert.equal(left.trim(), "");
  });

  for (const version of ["1.27", "1.33"]) {
    test(`kubectl ${version}: create namespace, create configmap --from-literal, apply, get, delete`, async () => {
      const kv = new Kubectl(srv.kubeconfigPath, version);
      const ns = `v${version.replace(".", "-")}`;
      await kv.ok(["create", "namespace", ns]);
      await kv.ok(["create", "configmap", "lit", "-n", ns, "--from-literal=k1=v1", "--from-literal=k2=v2"]);
      const data = JSON.parse(await kv.ok(["get", "configmap", "lit", "-n", ns, "-o", "jsonpath={.data}"]));
      assert.deepEqual(data, { k1: "v1", k2: "v2" });
      await kv.ok(["create", "service", "clusterip", "web", "-n", ns, "--tcp=80:8080"]);
      assert.match(await kv.ok(["get", "svc", "web", "-n", ns]), /web\s+ClusterIP\s+172\.30\./);
      await kv.ok(["run", "client", "-n", ns, "--image=egress/client", "--labels=app=client"]);
      assert.equal(
        await kv.ok(["get", "pod", "client", "-n", ns, "-o", "jsonpath={.metadata.labels.app}"]),
        "client",
      );
      await kv.ok(["apply", "-n", ns, "-f", join(EXAMPLES_DIR, "004-network-policies.yaml")]);
      const again = await kv.ok(["apply", "-n", ns, "-f", join(EXAMPLES_DIR, "004-network-policies.yaml")]);
      assert.match(again, /unchanged/);
      await kv.ok(["delete", "namespace", ns, "--timeout=30s"]);
    });
  }
});
