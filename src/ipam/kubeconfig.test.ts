import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse as parseYaml } from "yaml";
import { renderKubeconfig } from "../apiserver/auth.js";
import { connectionFromKubeconfig, KubeconfigError, parseSimpleYaml, UnsupportedYaml } from "./kubeconfig.js";

const KUBECTL_STYLE = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://10.0.0.1:6443
  name: c1
- cluster:
    insecure-skip-tls-verify: true
    server: "https://[fd00::1]:6443"
  name: 'c2'
contexts:
- context:
    cluster: c2
    namespace: kube-system   # comment
    user: u2
  name: ctx2
current-context: ctx2
kind: Config
preferences: {}
users:
- name: u2
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
`;

describe("kubeconfig: the YAML subset reader agrees with the yaml package", () => {
  for (const [name, text] of [
    ["egress server's kubeconfig", renderKubeconfig("https://127.0.0.1:6443", "-----BEGIN CERT-----", "tok")],
    ["kubectl style", KUBECTL_STYLE],
  ] as const) {
    it(name, () => assert.deepEqual(parseSimpleYaml(text), parseYaml(text)));
  }
  it("random nested mappings and sequences", () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
    const val = fc
      .stringMatching(/^[a-zA-Z0-9/._-][a-zA-Z0-9/:._-]{0,12}$/)
      .filter((s) => !/^(true|false|null|~|\d.*|\..*|-.*)$/.test(s) && !s.endsWith(":"));
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        val,
        fc.dictionary(key, tie("node"), { minKeys: 1, maxKeys: 3 }),
        fc.array(fc.dictionary(key, tie("node"), { minKeys: 1, maxKeys: 3 }), { minLength: 1, maxLength: 3 }),
      ),
    }));
    const render = (v: unknown, indent: string): string => {
      if (typeof v === "string") return ` ${v}\n`;
      if (Array.isArray(v))
        return `\n${v
          .map((item) => {
            const body = render(item, `${indent}  `).replace(/^\n/, "");
            return `${indent}- ${body.slice(indent.length + 2)}`;
          })
          .join("")}`;
      return `\n${Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${indent}${k}:${render(x, `${indent}  `)}`)
        .join("")}`;
    };
    fc.assert(
      fc.property(fc.dictionary(key, tree.node, { minKeys: 1, maxKeys: 4 }), (doc) => {
        const text = render(doc, "").replace(/^\n/, "");
        assert.deepEqual(parseSimpleYaml(text), parseYaml(text), text);
      }),
    );
  });
  it("refuses what it does not know (the caller falls back to the yaml package)", () => {
    for (const t of ["a: |\n  x\n", "a: &x 1\n", "a: [1, 2]\n", "a:\n\tb: 1\n"])
      assert.throws(() => parseSimpleYaml(t), UnsupportedYaml, t);
  });
});

describe("kubeconfig: connection", () => {
  it("current context's cluster, CA, token", () => {
    const doc = parseSimpleYaml(renderKubeconfig("https://127.0.0.1:6443/", "PEM", "tok"));
    const c = connectionFromKubeconfig(doc, "/x/kubeconfig", () => Buffer.from(""));
    assert.equal(c.server, "https://127.0.0.1:6443");
    assert.equal(c.ca?.toString(), "PEM");
    assert.equal(c.token, "tok");
    assert.equal(c.insecureSkipTLSVerify, false);
  });
  it("client certificates, insecure flag, context namespace", () => {
    const c = connectionFromKubeconfig(parseSimpleYaml(KUBECTL_STYLE), "/x/k", () => Buffer.from(""));
    assert.equal(c.server, "https://[fd00::1]:6443");
    assert.equal(c.cert?.toString(), "CERT");
    assert.equal(c.key?.toString(), "KEY");
    assert.equal(c.insecureSkipTLSVerify, true);
    assert.equal(c.namespace, "kube-system");
  });
  it("files relative to the kubeconfig's directory", () => {
    const read: string[] = [];
    connectionFromKubeconfig(
      {
        "current-context": "c",
        contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
        clusters: [{ name: "k", cluster: { server: "https://h", "certificate-authority": "ca.crt" } }],
        users: [{ name: "u", user: { tokenFile: "/abs/token" } }],
      },
      "/etc/kc/config",
      (p) => {
        read.push(p);
        return Buffer.from("t\n");
      },
    );
    assert.deepEqual(read, ["/etc/kc/ca.crt", "/abs/token"]);
  });
  it("errors name the problem", () => {
    assert.throws(
      () =>
        connectionFromKubeconfig({ "current-context": "nope", contexts: [] }, "/k", () => Buffer.from("")),
      (e: unknown) => e instanceof KubeconfigError && /context "nope" not found/.test(e.message),
    );
  });
});
