import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeResponse } from "../cni/daemon-protocol.js";
import { PoolQueues } from "./coalesce.js";
import { callDaemon, DaemonRunningError, type IpamDaemon, startIpamDaemon } from "./daemon.js";
import { MemoryStore } from "./memory-store.js";
import type { IPAMStore } from "./store.js";

describe("ipam daemon over a unix socket (memory store)", () => {
  let dir = "";
  let daemon: IpamDaemon | undefined;
  const store = new MemoryStore();
  const queues = new PoolQueues();
  let batches = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wb-daemon-"));
    daemon = await startIpamDaemon({
      socketPath: join(dir, "d.sock"),
      openerFor: () => async (conf) =>
        ({
          read: (s) => store.read(s),
          transact: (s, fn) =>
            queues.transact(s.network, s, fn, conf.lockTimeoutMs, async (sc, f) => {
              // A store a round trip away (an instant one never lets a queue build up).
              batches++;
              await new Promise((r) => setTimeout(r, 5));
              return store.transact(sc, f);
            }),
          close: async () => {},
        }) satisfies IPAMStore,
    });
  });
  after(async () => {
    await daemon?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const conf = JSON.stringify({
    cniVersion: "1.0.0",
    name: "t",
    type: "bridge",
    ipam: { type: "whereabouts", range: "10.7.0.0/24", network_name: "d" },
  });
  const call = (command: string, id: string, extra: Record<string, string> = {}) =>
    callDaemon(daemon!.socketPath, {
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: id,
        CNI_NETNS: "/x",
        CNI_IFNAME: "eth0",
        CNI_PATH: "/opt/cni/bin",
        CNI_ARGS: `K8S_POD_NAMESPACE=ns;K8S_POD_NAME=${id}`,
        ...extra,
      },
      stdin: Buffer.from(conf),
    });

  it("answers with the plugin's exact stdout and exit code; the socket is private", async () => {
    const ok = await call("ADD", "a1");
    assert.equal(ok.exitCode, 0);
    assert.equal(ok.stdout.toString(), '{"cniVersion":"1.0.0","ips":[{"address":"10.7.0.1/24"}],"dns":{}}\n');
    const bad = await call("ADD", "a2", { CNI_NETNS: "" });
    assert.equal(bad.exitCode, 1);
    assert.equal(JSON.parse(bad.stdout.toString()).code, 4);
    const del = await call("DEL", "a1");
    assert.deepEqual([del.exitCode, del.stdout.length], [0, 0]);
    assert.equal((await stat(daemon!.socketPath)).mode & 0o777, 0o600);
  });

  it("60 concurrent ADDs: 60 distinct addresses in far fewer store transactions; 60 DELs empty the pool", async () => {
    const before = batches;
    const adds = await Promise.all(Array.from({ length: 60 }, (_, i) => call("ADD", `p${i}`)));
    const ips = adds.map(
      (a) => (JSON.parse(a.stdout.toString()) as { ips: { address: string }[] }).ips[0]!.address,
    );
    assert.equal(new Set(ips).size, 60);
    assert.ok(batches - before < 30, `${batches - before} store transactions for 60 ADDs`);
    await Promise.all(Array.from({ length: 60 }, (_, i) => call("DEL", `p${i}`)));
    assert.deepEqual(store.networks.get("d")?.pools["d-10.7.0.0-24"]?.allocations, {});
    assert.deepEqual(store.networks.get("d")?.reservations, {});
    assert.equal(daemon!.stats().inFlight, 0);
  });

  it("a malformed frame gets a CNI error reply; a second daemon on the same socket is refused", async () => {
    const { connect } = await import("node:net");
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(daemon!.socketPath, () => s.end("GET / HTTP/1.1\r\n\r\n"));
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("close", () => resolve(Buffer.concat(chunks)));
      s.on("error", reject);
    });
    const res = decodeResponse(reply);
    assert.equal(res?.exitCode, 1);
    assert.match(res!.stdout.toString(), /"code":999.*bad request/);
    await assert.rejects(startIpamDaemon({ socketPath: daemon!.socketPath }), DaemonRunningError);
  });
});
