import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_TEMPLATE_DATA,
  TEMPLATE_APPLIED_ANNOTATION,
  templatePolicies,
  templateSkipReason,
} from "./template.js";

describe("templateSkipReason", () => {
  const T = "2024-01-01T00:00:00Z";
  const table: {
    ns: string;
    created?: string;
    annotations?: Record<string, string>;
    terminating?: boolean;
    template?: string;
    want?: string;
  }[] = [
    { ns: "proj", created: "2024-01-02T00:00:00Z", template: T },
    { ns: "proj", created: T, template: T },
    { ns: "proj", created: "2023-12-31T00:00:00Z", template: T, want: "created before the template" },
    { ns: "default", created: "2024-01-02T00:00:00Z", template: T, want: "system namespace" },
    { ns: "kube-public", template: T, want: "system namespace" },
    { ns: "openshift-config", template: T, want: "system namespace" },
    { ns: "proj", template: T, terminating: true, want: "terminating" },
    { ns: "proj", template: T, annotations: { [TEMPLATE_APPLIED_ANNOTATION]: "x" }, want: "already applied" },
    { ns: "proj", want: "no template" },
  ];
  for (const t of table) {
    it(`${t.ns} ${JSON.stringify(t)} → ${t.want ?? "apply"}`, () => {
      assert.equal(
        templateSkipReason(
          {
            name: t.ns,
            ...(t.created ? { creationTimestamp: t.created } : {}),
            ...(t.annotations ? { annotations: t.annotations } : {}),
            terminating: t.terminating ?? false,
          },
          t.template,
        ),
        t.want,
      );
    });
  }
});

describe("templatePolicies", () => {
  it("the default template gives the seed's two policies in the project", () => {
    const { policies, errors } = templatePolicies(DEFAULT_TEMPLATE_DATA, "p1");
    assert.deepEqual(errors, []);
    assert.deepEqual(
      policies.map((p) => [p.metadata.name, p.metadata.namespace]),
      [
        ["allow-from-default-namespace", "p1"],
        ["allow-from-same-namespace", "p1"],
      ],
    );
  });
  it("multi-document keys, the PROJECT_NAME parameter, other keys ignored, bad documents reported with key and index", () => {
    const { policies, errors } = templatePolicies(
      {
        "a.yaml":
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the template parameter, literally.
          "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np-${PROJECT_NAME}\nspec: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        README: "not a manifest",
        "b.json": "{",
      },
      "p1",
    );
    assert.deepEqual(
      policies.map((p) => p.metadata.name),
      ["np-p1"],
    );
    assert.equal(errors.length, 2);
    assert.match(
      errors[0]?.message ?? "",
      /data\["a\.yaml"\] document 2: only networking\.k8s\.io\/v1 NetworkPolicy/,
    );
    assert.match(errors[1]?.message ?? "", /data\["b\.json"\] document 1/);
  });
});
