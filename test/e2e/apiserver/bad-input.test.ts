// Bad input never crashes the server and always gets a clear Status: malformed JSON/YAML, wrong
// kinds, oversized bodies (413), unknown fields, invalid values, huge selectors, unauthenticated
// requests, stale resourceVersions, and watch clients that stop reading.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect } from "node:tls";
import { call } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("bad input", () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(async () => {
    await srv?.stop();
  });
  const cms = "/api/v1/namespaces/default/configmaps";

  async function expectStatus(
    p: Promise<{ status: number; json(): Record<string, unknown> }>,
    code: number,
    message: RegExp,
  ) {
    const r = await p;
    assert.equal(r.status, code);
    const s = r.json();
    assert.equal(s.kind, "Status");
    assert.equal(s.code, code);
    assert.match(String(s.message), message);
    return s;
  }

  test("unauthenticated requests get 401", async () => {
    await expectStatus(call(srv, "GET", cms, { auth: false }), 401, /Unauthorized/);
    await expectStatus(
      call(srv, "GET", cms, { auth: false, headers: { Authorization: "Bearer wrong" } }),
      401,
      /Unauthorized/,
    );
  });

  test("malformed JSON and YAML", async () => {
    await expectStatus(call(srv, "POST", cms, { body: '{"kind": "ConfigMap", ' }), 400, /JSON/);
    await expectStatus(
      call(srv, "POST", cms, { body: "a: [b\n  c: :", contentType: "application/yaml" }),
      400,
      /yaml/,
    );
    await expectStatus(call(srv, "POST", cms, { body: "[1,2]" }), 400, /object/);
    await expectStatus(call(srv, "POST", cms, { body: "" }), 400, /empty/);
  });

  test("wrong kinds and versions", async () => {
    await expectStatus(
      call(srv, "POST", cms, {
        body: JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "x" } }),
      }),
      400,
      /kind of the body \(Secret\)/,
    );
    await expectStatus(
      call(srv, "POST", cms, {
        body: JSON.stringify({ apiVersion: "k8s.ovn.org/v1", kind: "ConfigMap", metadata: { name: "x" } }),
      }),
      400,
      /apiVersion/,
    );
    await expectStatus(call(srv, "GET", "/apis/nope.example.com/v1/things"), 404, /could not find/);
  });

  test("bodies over 3 MiB get 413", async () => {
    const big = JSON.stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "big" },
      data: { a: "x".repeat(3 * 1024 * 1024 + 10) },
    });
    await expectStatus(call(srv, "POST", cms, { body: big }), 413, /limit/);
    const r = await call(srv, "GET", `${cms}/big`);
    assert.equal(r.status, 404);
  });

  test("unknown fields: Strict refuses, Warn warns and drops, Ignore drops", async () => {
    const obj = (name: string) =>
      JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { a: "b" }, bogus: 1 });
    await expectStatus(
      call(srv, "POST", `${cms}?fieldValidation=Strict`, { body: obj("s") }),
      400,
      /unknown field "bogus"/,
    );
    const w = await call(srv, "POST", `${cms}?fieldValidation=Warn`, { body: obj("w") });
    assert.equal(w.status, 201);
    assert.match(String(w.headers.warning), /unknown field \\"bogus\\"/);
    assert.equal(w.json().bogus, undefined);
    const i = await call(srv, "POST", `${cms}?fieldValidation=Ignore`, { body: obj("i") });
    assert.equal(i.status, 201);
    assert.equal(i.headers.warning, undefined);
    await expectStatus(
      call(srv, "POST", `${cms}?fieldValidation=Loud`, { body: obj("l") }),
      400,
      /fieldValidation/,
    );
  });

  test("invalid values: 422 with causes naming field and value", async () => {
    const s = await expectStatus(
      call(srv, "POST", "/apis/k8s.ovn.org/v1/egressips", {
        body: JSON.stringify({
          apiVersion: "k8s.ovn.org/v1",
          kind: "EgressIP",
          metadata: { name: "e" },
          spec: { egressIPs: ["10.0.0.300"], namespaceSelector: {} },
        }),
      }),
      422,
      /spec\.egressIPs\[0\].*10\.0\.0\.300/,
    );
    const causes = (s.details as { causes: { field: string }[] }).causes;
    assert.equal(causes[0]?.field, "spec.egressIPs[0]");
  });

  test("conflicts: AlreadyExists and stale resourceVersion", async () => {
    const body = JSON.stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cc" },
      data: { a: "1" },
    });
    assert.equal((await call(srv, "POST", cms, { body })).status, 201);
    await expectStatus(call(srv, "POST", cms, { body }), 409, /already exists/);
    const cur = (await call(srv, "GET", `${cms}/cc`)).json();
    const rv = (cur.metadata as { resourceVersion: string }).resourceVersion;
    const upd = (v: string, rv: string) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "cc", resourceVersion: rv },
        data: { a: v },
      });
    assert.equal((await call(srv, "PUT", `${cms}/cc`, { body: upd("2", rv) })).status, 200);
    await expectStatus(call(srv, "PUT", `${cms}/cc`, { body: upd("3", rv) }), 409, /has been modified/);
  });

  test("huge and malformed selectors", async () => {
    const huge = Array.from({ length: 5000 }, (_, i) => `k${i}=v`).join(",");
    await expectStatus(
      call(srv, "GET", `${cms}?labelSelector=${encodeURIComponent(huge)}`),
      400,
      /labelSelector/,
    );
    await expectStatus(
      call(srv, "GET", `${cms}?labelSelector=${encodeURIComponent("a in (b")}`),
      400,
      /unable to parse/,
    );
    await expectStatus(
      call(srv, "GET", `${cms}?fieldSelector=spec.nodeName%3Dx`),
      400,
      /field label not supported/,
    );
    const ok = await call(srv, "GET", `/api/v1/pods?fieldSelector=spec.nodeName%3Dnode1`);
    assert.equal(ok.status, 200);
  });

  test("a watch client that stops reading is disconnected and the server stays healthy", async () => {
    // Open a watch over raw TLS and never read from it, then write enough to overflow its buffer.
    const u = new URL(srv.url);
    const sock = connect({ host: u.hostname, port: Number(u.port), ca: srv.caPem, servername: "localhost" });
    await new Promise<void>((r) => sock.once("secureConnect", () => r()));
    sock.write(`GET ${cms}?watch=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${srv.token}\r\n\r\n`);
    sock.pause();
    const value = "y".repeat(512 * 1024);
    for (let i = 0; i < 64; i++) {
      const body = JSON.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `flood-${i}` },
        data: { v: value },
      });
      assert.equal((await call(srv, "POST", cms, { body })).status, 201);
    }
    const health = await call(srv, "GET", "/healthz");
    assert.equal(health.status, 200);
    // The server ended the stalled stream: reading it now yields the final chunk before all events.
    let got = "";
    sock.on("data", (d: Buffer) => (got += d.toString("latin1")));
    sock.resume();
    const deadline = Date.now() + 10_000;
    while (!got.includes("\r\n0\r\n\r\n") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    assert.ok(got.includes("\r\n0\r\n\r\n"), "the watch stream was not ended");
    const delivered = got.split('"name":"flood-').length - 1;
    assert.ok(delivered < 64, `all ${delivered} events were buffered for a client that did not read`);
  });
});
