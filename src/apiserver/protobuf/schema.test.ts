// Cross-checks the hand-written schema against the FileDescriptorProtos embedded in kubectl 1.32
// (extracted by capture.ts into fixtures/descriptors/): every field number, name, type and
// repeated/map shape must agree, and every field the descriptors have must be either in the schema
// or in the explicit list of fields this decoder skips on purpose.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type FieldDesc, MESSAGES, messageForKind, PACKAGES } from "./schema.js";
import { type ProtoField, type ProtoMessage, parseFileDescriptor, readFixture } from "./test-fixtures.js";

const protos = new Map<string, ProtoMessage>();
for (const f of ["meta", "core", "coordination", "networking"]) {
  for (const [k, v] of parseFileDescriptor(readFixture("descriptors", `${f}.desc`))) protos.set(k, v);
}

const META = PACKAGES.meta;
const SPECIAL_TYPES: Record<string, string> = {
  Time: `.${META}.Time`,
  MicroTime: `.${META}.MicroTime`,
  FieldsV1: `.${META}.FieldsV1`,
  IntOrString: ".k8s.io.apimachinery.pkg.util.intstr.IntOrString",
  Quantity: ".k8s.io.apimachinery.pkg.api.resource.Quantity",
};
const SCALAR_TYPES: Record<string, number> = { string: 9, bytes: 12, bool: 8, int32: 5, int64: 3 };

/** Fields and messages added after 1.32 (absent from the 1.32 descriptors), per the reference doc. */
const NEWER_THAN_1_32 = new Set([
  "meta.ListMeta.shardInfo",
  "meta.ShardInfo",
  "core.PodSpec.hostnameOverride",
  "core.PodStatus.observedGeneration",
  "core.PodCondition.observedGeneration",
  "core.ContainerStatus.stopSignal",
  "core.Lifecycle.stopSignal",
  "core.NodeSystemInfo.swap",
  "core.NodeSwapStatus",
  "core.NodeStatus.declaredFeatures",
  "core.EmptyDirVolumeSource.mode",
  "core.SecretVolumeSource.defaultUser",
  "core.ConfigMapVolumeSource.defaultUser",
  "core.KeyToPath.user",
]);

/** Fields in the 1.32 descriptors that the schema deliberately leaves out (skipped as unknown):
 *  the deprecated in-tree volume plugins. */
const SKIPPED = new Set(
  [
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
  ].map((f) => `core.VolumeSource.${f}`),
);

function protoName(qualified: string): string {
  const dot = qualified.indexOf(".");
  return `${PACKAGES[qualified.slice(0, dot)]}.${qualified.slice(dot + 1)}`;
}

function checkValueType(f: FieldDesc, type: number, typeName: string, where: string): void {
  const t = f.type;
  if (t.kind === "scalar") assert.equal(type, SCALAR_TYPES[t.scalar], `${where}: scalar type`);
  else {
    assert.equal(type, 11, `${where}: must be a message`);
    const want = t.kind === "special" ? SPECIAL_TYPES[t.special] : `.${protoName(t.message)}`;
    assert.equal(typeName, want, `${where}: message type`);
  }
}

describe("schema against kubectl 1.32 descriptors", () => {
  for (const [name, desc] of MESSAGES) {
    it(name, () => {
      const proto = protos.get(protoName(name));
      if (!proto) {
        assert.ok(NEWER_THAN_1_32.has(name), `${name} is not in the 1.32 descriptors`);
        return;
      }
      for (const f of desc.fields) {
        const where = `${name}.${f.name}`;
        const pf: ProtoField | undefined = proto.fields.find((p) => p.number === f.number);
        if (!pf) {
          assert.ok(NEWER_THAN_1_32.has(where), `${where} (#${f.number}) is not in the 1.32 descriptors`);
          continue;
        }
        assert.ok(!NEWER_THAN_1_32.has(where), `${where} is listed as newer but exists in 1.32`);
        assert.equal(pf.name, f.name, `${name} #${f.number}: name`);
        const entry: ProtoMessage | undefined = pf.type === 11 ? protos.get(pf.typeName.slice(1)) : undefined;
        if (f.shape === "map") {
          assert.ok(pf.repeated && entry?.mapEntry, `${where}: must be a map`);
          const key: ProtoField | undefined = entry.fields.find((x) => x.number === 1);
          const value: ProtoField | undefined = entry.fields.find((x) => x.number === 2);
          assert.equal(key?.type, 9, `${where}: map key must be string`);
          assert.ok(value, `${where}: map value`);
          checkValueType(f, value.type, value.typeName, `${where} value`);
        } else {
          assert.equal(pf.repeated, f.shape === "repeated", `${where}: repeated`);
          assert.ok(!entry?.mapEntry, `${where}: is a map in the descriptor`);
          checkValueType(f, pf.type, pf.typeName, where);
        }
      }
      for (const pf of proto.fields as readonly ProtoField[]) {
        const where = `${name}.${pf.name}`;
        if (!desc.byNumber.has(pf.number)) assert.ok(SKIPPED.has(where), `${where} (#${pf.number}) missing`);
      }
    });
  }
});

describe("messageForKind", () => {
  const cases: [string, string, string | undefined][] = [
    ["v1", "Namespace", "core.Namespace"],
    ["v1", "PodList", "core.PodList"],
    ["v1", "DeleteOptions", "meta.DeleteOptions"],
    ["meta.k8s.io/v1", "DeleteOptions", "meta.DeleteOptions"],
    ["coordination.k8s.io/v1", "Lease", "coordination.Lease"],
    ["networking.k8s.io/v1", "Ingress", "networking.Ingress"],
    ["networking.k8s.io/v1", "NetworkPolicyList", "networking.NetworkPolicyList"],
    // Nested messages are not kinds; kinds of other groups are not served.
    ["v1", "PodSpec", undefined],
    ["v1", "ObjectMeta", undefined],
    ["v1", "Lease", undefined],
    ["apps/v1", "Deployment", undefined],
    ["networking.k8s.io/v1", "Pod", undefined],
    ["v1", "__proto__", undefined],
  ];
  for (const [apiVersion, kind, want] of cases) {
    it(`${apiVersion} ${kind} -> ${want ?? "none"}`, () => {
      assert.equal(messageForKind(apiVersion, kind)?.name, want);
    });
  }
});
