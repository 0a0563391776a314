// The health endpoint: 200 on the health paths, 404 elsewhere, 503 once the main thread's heartbeat
// is stale, and answers while the main thread's event loop is blocked (the server lives in a worker).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { get } from "node:http";
import { test } from "node:test";
import { startHealthServer } from "./health.js";

function status(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    }).on("error", reject);
  });
}

test("answers 200 on /healthz, /readyz, /livez and 404 elsewhere", async () => {
  const h = await startHealthServer("127.0.0.1", 0);
  try {
    for (const p of ["/healthz", "/readyz", "/livez"]) assert.equal(await status(h.port, p), 200, p);
    assert.equal(await status(h.port, "/metrics"), 404);
  } finally {
    await h.close();
  }
});

test("answers 503 when the main thread's heartbeat is older than staleAfterMs", async () => {
  const h = await startHealthServer("127.0.0.1", 0, { staleAfterMs: 0 });
  try {
    assert.equal(await status(h.port, "/healthz"), 503);
  } finally {
    await h.close();
  }
});

test("answers while the main thread is blocked", async () => {
  const h = await startHealthServer("127.0.0.1", 0);
  try {
    // curl runs in another process; this thread spins meanwhile and reads curl's verdict afterwards.
    const child = spawn(
      "curl",
      ["-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", `http://127.0.0.1:${h.port}/healthz`],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const spawned = await new Promise<boolean>((r) => {
      child.on("spawn", () => r(true));
      child.on("error", () => r(false));
    });
    if (!spawned) return; // no curl here: nothing to assert
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      /* block the event loop */
    }
    const code = await new Promise<number | null>((r) => child.on("close", r));
    if (code === null || out === "") return; // no curl here: nothing to assert
    const [http, secs] = out.split(" ");
    assert.equal(http, "200");
    assert.ok(Number(secs) < 1.2, `answered after ${secs} s while the main thread was blocked for 1.5 s`);
  } finally {
    await h.close();
  }
});
