// Objects exactly as kubectl 1.32 prints them with `--dry-run=client -o json` (captured during
// development; long base64 values shortened). Test data for the kinds' validation: tools send these
// shapes (`creationTimestamp: null`, `status: {}`, `resources: {}`), so they must validate clean.
// Commands, in order: run p --image=nginx; run p2 --image=busybox --env=A=b --port=8080
// --labels=app=x --restart=Never --command -- sleep 3600; create service clusterip s --tcp=80:8080;
// create service loadbalancer lb --tcp=80:8080; create service nodeport np --tcp=80:8080;
// create configmap cm --from-literal=a=b; create configmap cm2 --from-literal=x=1 --from-file=k.pem;
// create secret generic sec --from-literal=a=b; create secret docker-registry dr --docker-server=x
// --docker-username=u --docker-password=p; create secret tls tls --cert=c.pem --key=k.pem;
// create namespace ns; create serviceaccount sa; create ingress ing --rule="foo.com/bar=svc1:8080".
export const kubectlDryRunObjects: readonly Record<string, unknown>[] = [
  // run
  {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name: "p", creationTimestamp: null, labels: { run: "p" } },
    spec: {
      containers: [{ name: "p", image: "nginx", resources: {} }],
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
    },
    status: {},
  },
  // run2
  {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name: "p2", creationTimestamp: null, labels: { app: "x" } },
    spec: {
      containers: [
        {
          name: "p2",
          image: "busybox",
          command: ["sleep", "3600"],
          ports: [{ containerPort: 8080 }],
          env: [{ name: "A", value: "b" }],
          resources: {},
        },
      ],
      restartPolicy: "Never",
      dnsPolicy: "ClusterFirst",
    },
    status: {},
  },
  // svc
  {
    kind: "Service",
    apiVersion: "v1",
    metadata: { name: "s", creationTimestamp: null, labels: { app: "s" } },
    spec: {
      ports: [{ name: "80-8080", protocol: "TCP", port: 80, targetPort: 8080 }],
      selector: { app: "s" },
      type: "ClusterIP",
    },
    status: { loadBalancer: {} },
  },
  // svclb
  {
    kind: "Service",
    apiVersion: "v1",
    metadata: { name: "lb", creationTimestamp: null, labels: { app: "lb" } },
    spec: {
      ports: [{ name: "80-8080", protocol: "TCP", port: 80, targetPort: 8080 }],
      selector: { app: "lb" },
      type: "LoadBalancer",
    },
    status: { loadBalancer: {} },
  },
  // svcnp
  {
    kind: "Service",
    apiVersion: "v1",
    metadata: { name: "np", creationTimestamp: null, labels: { app: "np" } },
    spec: {
      ports: [{ name: "80-8080", protocol: "TCP", port: 80, targetPort: 8080 }],
      selector: { app: "np" },
      type: "NodePort",
    },
    status: { loadBalancer: {} },
  },
  // cm
  {
    kind: "ConfigMap",
    apiVersion: "v1",
    metadata: { name: "cm", creationTimestamp: null },
    data: { a: "b" },
  },
  // cm2
  {
    kind: "ConfigMap",
    apiVersion: "v1",
    metadata: { name: "cm2", creationTimestamp: null },
    data: { "k.pem": "-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgw", x: "1" },
  },
  // sec
  {
    kind: "Secret",
    apiVersion: "v1",
    metadata: { name: "sec", creationTimestamp: null },
    data: { a: "Yg==" },
  },
  // secdr
  {
    kind: "Secret",
    apiVersion: "v1",
    metadata: { name: "dr", creationTimestamp: null },
    data: {
      ".dockerconfigjson":
        "eyJhdXRocyI6eyJ4Ijp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgiOiJkVHB3In19fQ==",
    },
    type: "kubernetes.io/dockerconfigjson",
  },
  // sectls
  {
    kind: "Secret",
    apiVersion: "v1",
    metadata: { name: "tls", creationTimestamp: null },
    data: {
      "tls.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMrVENDQWVHZ0F3SUJBZ0lV",
      "tls.key": "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJna3Foa2lH",
    },
    type: "kubernetes.io/tls",
  },
  // ns
  {
    kind: "Namespace",
    apiVersion: "v1",
    metadata: { name: "ns", creationTimestamp: null },
    spec: {},
    status: {},
  },
  // sa
  { kind: "ServiceAccount", apiVersion: "v1", metadata: { name: "sa", creationTimestamp: null } },
  // ing
  {
    kind: "Ingress",
    apiVersion: "networking.k8s.io/v1",
    metadata: { name: "ing", creationTimestamp: null },
    spec: {
      rules: [
        {
          host: "foo.com",
          http: {
            paths: [
              {
                path: "/bar",
                pathType: "Exact",
                backend: { service: { name: "svc1", port: { number: 8080 } } },
              },
            ],
          },
        },
      ],
    },
    status: { loadBalancer: {} },
  },
];
