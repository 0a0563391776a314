// Crash safety of the whole server: a writer issues acknowledged writes over HTTPS while the
// `egress server` process is killed with SIGKILL at random moments; after every restart every
// acknowledged write is present and the store opens.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { call, type Endpoint } from "../support/http.js";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "src", "cli", "main.js");
const ROUNDS = 12;

const children = new Set<ChildProcess>();
let dataDir = "";
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function startServer(dir: string): Promise<{ child: ChildProcess; ep: Endpoint }> {
  const child = spawn(process.execPath, [MAIN, "server", "--data-dir", dir, "--listen", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, EGRESS_LOG_LEVEL: "warn" },
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let out = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (https:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`server exited (${code}) before listening:\n${err}`)));
  });
  const caPem = await readFile(join(dir, "pki", "ca.crt"), "utf8");
  const token = (await readFile(join(dir, "token"), "utf8")).trim();
  return { child, ep: { url, caPem, token } };
}

test(`server crash: ${ROUNDS} rounds of SIGKILL during acknowledged writes lose nothing`, async () => {
  dataDir = await mkdtemp(join(tmpdir(), "egress-crash-"));
  const acked = new Map<string, string>(); // name → value acknowledged
  let counterAcked = 0;
  let seq = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { child, ep } = await startServer(dataDir);
    // Everything acknowledged in earlier rounds survived the kill.
    const list = (await call(ep, "GET", "/api/v1/namespaces/default/configmaps")).json();
    const stored = new Map<string, string>();
    for (const it of list.items as { metadata: { name: string }; data?: { v?: string } }[]) {
      stored.set(it.metadata.name, it.data?.v ?? "");
    }
    for (const [name, v] of acked)
      assert.equal(stored.get(name), v, `round ${round}: acknowledged ${name}=${v} lost`);
    const counter = Number(stored.get("counter") ?? "0");
    assert.ok(counter >= counterAcked, `round ${round}: counter ${counter} < acknowledged ${counterAcked}`);
    counterAcked = Math.max(counterAcked, counter);
    if (!stored.has("counter")) {
      const r = await call(ep, "POST", "/api/v1/namespaces/default/configmaps", {
        body: JSON.stringify({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "counter" },
          data: { v: "0" },
        }),
      });
      assert.equal(r.status, 201);
    }

    // Writers: creates of unique objects and read-modify-write updates of the counter.
    let stop = false;
    const writer = async () => {
      while (!stop) {
        const n = seq++;
        const name = `obj-${n}`;
        try {
          const r = await call(ep, "POST", "/api/v1/namespaces/default/configmaps", {
            body: JSON.stringify({
              apiVersion: "v1",
              kind: "ConfigMap",
              metadata: { name },
              data: { v: String(n) },
            }),
          });
          if (r.status === 201) acked.set(name, String(n));
          const cur = await call(ep, "GET", "/api/v1/namespaces/default/configmaps/counter");
          if (cur.status !== 200) continue;
          const obj = cur.json() as { data: { v: string } };
          const next = Number(obj.data.v) + 1;
          obj.data.v = String(next);
          const u = await call(ep, "PUT", "/api/v1/namespaces/default/configmaps/counter", {
            body: JSON.stringify(obj),
          });
          if (u.status === 200) counterAcked = Math.max(counterAcked, next);
        } catch {
          return; // the server is gone
        }
      }
    };
    const writers = Array.from({ length: 6 }, writer);
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 400));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    stop = true;
    await Promise.all(writers);
  }
  assert.ok(acked.size > ROUNDS, `too few writes acknowledged (${acked.size}) for the test to mean anything`);
  // Final check after the last kill.
  const { child, ep } = await startServer(dataDir);
  const list = (await call(ep, "GET", "/api/v1/namespaces/default/configmaps")).json();
  const names = new Set((list.items as { metadata: { name: string } }[]).map((i) => i.metadata.name));
  for (const name of acked.keys()) assert.ok(names.has(name), `${name} lost after the last kill`);
  // SIGTERM stops the server cleanly and promptly (it exits within its 3 s grace period).
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const clean = await Promise.race([
    exited.then(() => true),
    new Promise((r) => setTimeout(() => r(false), 8000)),
  ]);
  if (!clean) child.kill("SIGKILL");
  assert.ok(clean, "the server did not exit within 8 s of SIGTERM");
});
