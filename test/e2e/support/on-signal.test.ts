// cleanupOnSignal in a child process: SIGTERM runs the cleanup once and ends the process with 143;
// after unregistering, the signal's default action applies and the cleanup does not run.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";

const dir = mkdtempSync(join(tmpdir(), "on-signal-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const moduleUrl = new URL("./on-signal.js", import.meta.url).href;

/** Starts a child that registers the cleanup (and unregisters it when `unregister`), waits for its
 *  "ready", sends SIGTERM; resolves with its exit status/signal and what the cleanup wrote. */
function run(unregister: boolean): Promise<{ code: number | null; signal: string | null; marker: string }> {
  const marker = join(dir, `marker-${unregister}`);
  const src = `
    import { appendFileSync } from "node:fs";
    import { cleanupOnSignal } from ${JSON.stringify(moduleUrl)};
    const off = cleanupOnSignal(() => appendFileSync(${JSON.stringify(marker)}, "cleaned\\n"));
    if (${unregister}) off();
    console.log("ready");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", src], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve) => {
    child.stdout.once("data", () => child.kill("SIGTERM"));
    child.once("exit", (code, signal) => {
      let text = "";
      try {
        text = readFileSync(marker, "utf8");
      } catch {
        // no cleanup ran
      }
      resolve({ code, signal, marker: text });
    });
  });
}

it("SIGTERM runs the cleanup once and exits with 128 + 15", async () => {
  assert.deepEqual(await run(false), { code: 143, signal: null, marker: "cleaned\n" });
});

it("after unregistering, SIGTERM ends the process without the cleanup", async () => {
  assert.deepEqual(await run(true), { code: null, signal: "SIGTERM", marker: "" });
});
