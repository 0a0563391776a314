// Test-support script (run by hand, not by the test suite): captures the request bodies real kubectl
// binaries send for typed calls, so the decoder is tested against bytes it did not produce itself.
// It starts a minimal fake API server on 127.0.0.1 (discovery + recording of POST/PUT/DELETE bodies),
// runs each kubectl version against it, and writes under src/apiserver/protobuf/fixtures/<version>/:
//   <case>.pb    the raw request body (with the k8s\0 envelope); <case>.request-body when kubectl sent JSON
//   <case>.json  the oracle: `kubectl ... --dry-run=client -o json` for the same command (where it exists)
//   requests.json method, path, Content-Type and Accept of every request kubectl made
// Usage: npx tsx src/apiserver/protobuf/capture.ts [kubectl-dir]   (default /usr/lib/google-cloud-sdk/bin)
// Must not be imported by production code; it spawns processes and writes files.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

interface Recorded {
  method: string;
  path: string;
  contentType: string | undefined;
  accept: string | undefined;
  body: Buffer;
}

interface Case {
  name: string;
  /** kubectl arguments, without --server and output flags. */
  args: string[];
  /** True when the command has a `--dry-run=client -o json` form that prints the same object. */
  dryRun: boolean;
}

export const CASES: readonly Case[] = [
  { name: "namespace", args: ["create", "namespace", "foo"], dryRun: true },
  {
    name: "configmap",
    args: ["create", "configmap", "x", "--from-literal=a=b", "--from-literal=c=d"],
    dryRun: true,
  },
  { name: "secret", args: ["create", "secret", "generic", "s", "--from-literal=k=v"], dryRun: true },
  { name: "service", args: ["create", "service", "clusterip", "svc", "--tcp=80:8080"], dryRun: true },
  {
    name: "pod",
    args: ["run", "p", "--image=nginx", "--labels=app=x", "--env=A=B", "--port=80"],
    dryRun: true,
  },
  { name: "serviceaccount", args: ["create", "serviceaccount", "sa"], dryRun: true },
  {
    name: "ingress",
    args: ["create", "ingress", "web", "--class=default", "--rule=foo.com/bar*=svc1:8080,tls=my-cert"],
    dryRun: true,
  },
  {
    name: "service-nodeport",
    args: ["create", "service", "nodeport", "np", "--tcp=5678:8080"],
    dryRun: true,
  },
  {
    name: "secret-docker",
    args: [
      "create",
      "secret",
      "docker-registry",
      "reg",
      "--docker-server=r.example",
      "--docker-username=u",
      "--docker-password=p",
    ],
    dryRun: true,
  },
  { name: "delete-namespace", args: ["delete", "namespace", "x", "--wait=false"], dryRun: false },
];

const NETWORKING = [
  ["ingresses", "Ingress", true],
  ["networkpolicies", "NetworkPolicy", true],
] as const;

const RESOURCES = [
  ["namespaces", "Namespace", false],
  ["configmaps", "ConfigMap", true],
  ["secrets", "Secret", true],
  ["services", "Service", true],
  ["pods", "Pod", true],
  ["serviceaccounts", "ServiceAccount", true],
] as const;

function apiResourceList(
  groupVersion: string,
  resources: readonly (readonly [string, string, boolean])[],
): unknown {
  return {
    kind: "APIResourceList",
    groupVersion,
    resources: resources.map(([name, kind, namespaced]) => ({
      name,
      singularName: kind.toLowerCase(),
      namespaced,
      kind,
      verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    })),
  };
}

/** Returns true so handlers can `return sendJson(...)`. */
function sendJson(res: ServerResponse, code: number, body: unknown): boolean {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
  return true;
}

/** Answers just enough for kubectl to reach the write call, and records every request. */
function handle(req: IncomingMessage, body: Buffer, res: ServerResponse, log: Recorded[]): boolean {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  log.push({
    method: req.method ?? "",
    path: url.pathname + url.search,
    contentType: req.headers["content-type"],
    accept: req.headers.accept,
    body,
  });
  const p = url.pathname;
  if (p === "/version") {
    return sendJson(res, 200, { major: "1", minor: "33", gitVersion: "v1.33.0", platform: "linux/amd64" });
  }
  if (p === "/api") {
    return sendJson(res, 200, {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }],
    });
  }
  if (p === "/apis") {
    const gv = { groupVersion: "networking.k8s.io/v1", version: "v1" };
    return sendJson(res, 200, {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: [{ name: "networking.k8s.io", versions: [gv], preferredVersion: gv }],
    });
  }
  if (p === "/api/v1") return sendJson(res, 200, apiResourceList("v1", RESOURCES));
  if (p === "/apis/networking.k8s.io/v1") {
    return sendJson(res, 200, apiResourceList("networking.k8s.io/v1", NETWORKING));
  }
  const m =
    /^\/(api\/v1|apis\/networking\.k8s\.io\/v1)\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/]+))?$/.exec(p);
  const found = m ? [...RESOURCES, ...NETWORKING].find(([name]) => name === m[3]) : undefined;
  if (!m || !found)
    return sendJson(res, 404, { kind: "Status", apiVersion: "v1", status: "Failure", code: 404 });
  const [, kind] = found;
  const name = m[4] ?? "captured";
  const apiVersion = m[1] === "api/v1" ? "v1" : "networking.k8s.io/v1";
  const obj = { apiVersion, kind, metadata: { name, namespace: m[2], uid: "0000" } };
  if (req.method === "POST") return sendJson(res, 201, obj);
  if (req.method === "DELETE" || req.method === "GET" || req.method === "PUT") return sendJson(res, 200, obj);
  return sendJson(res, 405, { kind: "Status", apiVersion: "v1", status: "Failure", code: 405 });
}

async function captureVersion(kubectl: string, outDir: string): Promise<void> {
  const log: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handle(req, Buffer.concat(chunks), res, log));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const kubeHome = mkdtempSync(join(tmpdir(), "kubectl-capture-"));
  const env = { ...process.env, KUBECONFIG: join(kubeHome, "none"), HOME: kubeHome };
  const requests: Record<string, unknown[]> = {};
  try {
    mkdirSync(outDir, { recursive: true });
    for (const c of CASES) {
      const start = log.length;
      // kubectl runs asynchronously: a blocking spawn would stop this process's server from answering.
      const r = await runAsync(
        kubectl,
        [...c.args, "--server", `http://127.0.0.1:${port}`, "-n", "default"],
        env,
      );
      const mine = log.slice(start);
      // Discovery calls run in parallel: sort so the file does not change between runs.
      requests[c.name] = mine
        .map(({ method, path, contentType, accept }) => ({ method, path, contentType, accept }))
        .sort((a, b) => (a.method + a.path).localeCompare(b.method + b.path));
      const write = mine.find((x) => x.method !== "GET" && x.body.length > 0);
      if (r.code !== 0) console.error(`${c.name}: kubectl exit ${r.code}: ${r.stderr.trim()}`);
      // Bodies kubectl sends as JSON are kept too, named so no test mistakes them for protobuf.
      const ext = write?.contentType === "application/vnd.kubernetes.protobuf" ? "pb" : "request-body";
      if (write) writeFileSync(join(outDir, `${c.name}.${ext}`), write.body);
      else console.error(`${c.name}: no request body recorded`);
      if (c.dryRun) {
        const server = ["--server", `http://127.0.0.1:${port}`, "-n", "default"];
        const d = await runAsync(kubectl, [...c.args, ...server, "--dry-run=client", "-o", "json"], env);
        if (d.code !== 0) console.error(`${c.name}: dry-run failed: ${d.stderr}`);
        // Re-indented like the formatter wants it, so the linter accepts the committed file.
        else
          writeFileSync(join(outDir, `${c.name}.json`), `${JSON.stringify(JSON.parse(d.stdout), null, 2)}\n`);
      }
    }
    writeFileSync(join(outDir, "requests.json"), `${JSON.stringify(requests, null, 2)}\n`);
  } finally {
    server.closeAllConnections();
    server.close();
    rmSync(kubeHome, { recursive: true, force: true });
  }
}

function runAsync(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The generated.proto files whose descriptors schema.test.ts checks the schema against. */
const DESCRIPTOR_FILES: Record<string, string> = {
  "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto": "meta",
  "k8s.io/api/core/v1/generated.proto": "core",
  "k8s.io/api/coordination/v1/generated.proto": "coordination",
  "k8s.io/api/networking/v1/generated.proto": "networking",
};

/** gogo-protobuf registers each generated.proto as a gzipped FileDescriptorProto inside the binary:
 *  find the gzip streams and keep the ones naming the files above. */
function extractDescriptors(binary: string, outDir: string): void {
  const buf = readFileSync(binary);
  mkdirSync(outDir, { recursive: true });
  const found = new Set<string>();
  for (let i = buf.indexOf(0x1f); i >= 0 && i < buf.length - 3; i = buf.indexOf(0x1f, i + 1)) {
    if (buf[i + 1] !== 0x8b || buf[i + 2] !== 0x08) continue;
    let out: Buffer;
    try {
      out = gunzipSync(buf.subarray(i, Math.min(buf.length, i + 1_000_000)), { finishFlush: 2 });
    } catch {
      continue;
    }
    // FileDescriptorProto field 1 is the file name.
    const head = out.subarray(0, 120).toString("latin1");
    for (const [file, short] of Object.entries(DESCRIPTOR_FILES)) {
      if (!found.has(file) && head.includes(file)) {
        found.add(file);
        writeFileSync(join(outDir, `${short}.desc`), out);
      }
    }
  }
  for (const file of Object.keys(DESCRIPTOR_FILES))
    if (!found.has(file)) console.error(`descriptor ${file} not found`);
}

async function main(): Promise<void> {
  const dir = process.argv[2] ?? "/usr/lib/google-cloud-sdk/bin";
  const here = dirname(fileURLToPath(import.meta.url));
  // Write into the source tree even when run from a build directory.
  const fixtures = join(here.replace(/\/(?:dist|\.build\/[^/]+)\/src\//, "/src/"), "fixtures");
  for (const v of ["1.32", "1.33"]) {
    await captureVersion(join(dir, `kubectl.${v}`), join(fixtures, v));
  }
  extractDescriptors(join(dir, "kubectl.1.32"), join(fixtures, "descriptors"));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
