import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { get } from "node:http";
import { connect } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { sourceText, startEchoServer } from "./echo-server.js";

test("sourceText strips the IPv4-mapped prefix", () => {
  assert.equal(sourceText("::ffff:192.0.2.1", 5), "192.0.2.1:5");
  assert.equal(sourceText("10.0.0.1", 80), "10.0.0.1:80");
});

test("TCP: source line first, then an echo of what the client sends", async () => {
  const echo = await startEchoServer({ tcp: [0], udp: [], http: [], host: "127.0.0.1" });
  try {
    const got = await new Promise<string>((resolve, reject) => {
      const s = connect(echo.tcp[0]!, "127.0.0.1");
      let buf = "";
      s.on("data", (d: Buffer) => {
        buf += d.toString();
        if (buf.includes("\n") && !buf.includes("ping")) s.write("ping\n");
        if (buf.endsWith("ping\n")) s.end();
      });
      s.on("end", () => resolve(`${buf}|${s.localPort}`));
      s.on("error", reject);
    });
    const [text, port] = got.split("|");
    assert.equal(text, `127.0.0.1:${port}\nping\n`);
  } finally {
    await echo.close();
  }
});

test("UDP: one reply per datagram, source line then payload", async () => {
  const echo = await startEchoServer({ tcp: [], udp: [0], http: [], host: "127.0.0.1" });
  const sock = createSocket("udp4");
  try {
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const reply = new Promise<string>((r) => sock.once("message", (m) => r(m.toString())));
    sock.send("seq=1", echo.udp[0]!, "127.0.0.1");
    assert.equal(await reply, `127.0.0.1:${sock.address().port}\nseq=1`);
  } finally {
    sock.close();
    await echo.close();
  }
});

test("HTTP: body and X-Echo-Source are the client's address", async () => {
  const echo = await startEchoServer({ tcp: [], udp: [], http: [0], host: "127.0.0.1" });
  try {
    const { body, header } = await new Promise<{ body: string; header: unknown }>((resolve, reject) => {
      get({ host: "127.0.0.1", port: echo.http[0]!, path: "/", agent: false }, (res) => {
        let b = "";
        res.on("data", (d: Buffer) => {
          b += d.toString();
        });
        res.on("end", () => resolve({ body: b, header: res.headers["x-echo-source"] }));
      }).on("error", reject);
    });
    assert.match(body, /^127\.0\.0\.1:\d+\n$/);
    assert.equal(header, body.trim());
  } finally {
    await echo.close();
  }
});

test("as a program: refuses unknown flags, and serves until SIGTERM", async () => {
  const file = fileURLToPath(new URL("./echo-server.js", import.meta.url));
  const bad = spawn(process.execPath, [file, "--tcpp", "1"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  bad.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((r) => bad.on("close", (c) => r(c)));
  assert.notEqual(code, 0);
  assert.match(err, /unknown flag "--tcpp"/);

  const ok = spawn(process.execPath, [file, "--tcp", "0"], { stdio: ["ignore", "pipe", "ignore"] });
  const line = await new Promise<string>((r) => ok.stdout.once("data", (d: Buffer) => r(d.toString())));
  assert.match(line, /^echo server: tcp \d+ udp - http -/);
  ok.kill("SIGTERM");
  assert.equal(await new Promise<number | null>((r) => ok.on("close", (c) => r(c))), 0);
});
