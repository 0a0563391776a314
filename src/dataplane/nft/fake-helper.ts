// A stand-in for the nft-helper binary (helper/nft-helper.c) speaking the same frames, for the unit
// tests of PersistentNft without root or libnftables: `node fake-helper.js [mode]`. It touches no
// nftables state; it only answers according to the request's payload:
//   apply/check "die"          → the helper SIGKILLs itself without answering
//   apply/check "error:<text>" → error reply <text>
//   any payload "sleep:<ms> …" → answers after <ms> milliseconds
//   json "list table <f> missing"  → nft's "No such file or directory" error
//   json "list table <f> state"    → {"applied": [...], "checked": [...], "pid": n} (what it was sent)
//   json "list table <f> <name>"   → {"name": "<name>", "pid": n}
// Modes: "nolib" (says it cannot load libnftables, exits 3), "crash" (exits 1 before saying hello),
// "silent" (never says hello), "chunked" (writes every reply one byte at a time), "garbage" (answers
// the first request with an unknown status byte).
import { encodeReply, type Reply, RequestDecoder } from "./frame.js";

const mode = process.argv[2] ?? "ok";
const applied: string[] = [];
const checked: string[] = [];
let queue = Promise.resolve();

function send(r: Reply): Promise<void> {
  const bytes = encodeReply(r);
  if (mode === "garbage") {
    bytes[0] = 0x3f;
    process.stdout.write(bytes);
    return Promise.resolve();
  }
  if (mode !== "chunked") {
    process.stdout.write(bytes);
    return Promise.resolve();
  }
  return (async () => {
    for (const b of bytes) {
      process.stdout.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
  })();
}

async function answer(op: string, payload: string): Promise<void> {
  const sleep = /^sleep:(\d+)\s*/.exec(payload);
  if (sleep) {
    await new Promise((r) => setTimeout(r, Number(sleep[1])));
    payload = payload.slice(sleep[0].length);
  }
  if (op === "json") {
    const name = payload.split(" ")[3] ?? "";
    if (name === "missing")
      return send({
        ok: false,
        text: `Error: No such file or directory\n${payload}\n              ^^^^^^^\n`,
      });
    const body = name === "state" ? { applied, checked, pid: process.pid } : { name, pid: process.pid };
    return send({ ok: true, text: `${JSON.stringify(body)}\n` });
  }
  if (payload === "die") {
    process.kill(process.pid, "SIGKILL");
    return;
  }
  if (payload.startsWith("error:")) return send({ ok: false, text: payload.slice(6) });
  (op === "apply" ? applied : checked).push(payload);
  return send({ ok: true, text: "" });
}

if (mode === "nolib") {
  process.stdout.write(
    encodeReply({ ok: false, text: "nft-helper: cannot load libnftables.so.1: not found (fake)\n" }),
  );
  process.exitCode = 3;
} else if (mode === "crash") {
  process.stderr.write("fake helper: crashing at start\n");
  process.exitCode = 1;
} else {
  if (mode !== "silent") await send({ ok: true, text: "nft-helper 1" });
  const decoder = new RequestDecoder();
  process.stdin.on("data", (chunk: Buffer) => {
    for (const req of decoder.push(chunk)) queue = queue.then(() => answer(req.op, req.payload));
  });
}
