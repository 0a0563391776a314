// Child process of watch.bench.ts: holds N watch streams, each on its own HTTPS connection, and
// records when every event arrives, so the process that writes and times the acknowledgements is not
// also the one parsing N × events lines. Talks to its parent over the IPC channel only.
// Receive time is taken once per TCP chunk ('data' event); events are recognised by the object name
// without a full JSON.parse to keep this process's CPU use (which competes with the server) low.
import { Agent, request as httpsRequest } from "node:https";
import { wallNow } from "./support.js";

export interface StartMessage {
  type: "start";
  url: string;
  token: string;
  caPem: string;
  /** Watch path including query. */
  path: string;
  watchers: number;
  /** Names look like `<prefix><index>`; index in [0, expect). */
  namePrefix: string;
  expect: number;
}
export type ParentMessage =
  | StartMessage
  | { type: "ping"; t: number }
  | { type: "progress" }
  | { type: "collect" };
export type ChildMessage =
  | { type: "ready" }
  | { type: "pong"; t: number; child: number }
  | { type: "progress"; delivered: number }
  | { type: "result"; counts: number[]; duplicates: number; recv: number[][] } // wall ms, -1 = missing
  | { type: "error"; message: string };

function send(m: ChildMessage, then?: () => void): void {
  process.send?.(m, undefined, {}, () => then?.());
}

let recv: number[][] = [];
let counts: number[] = [];
let duplicates = 0;
let agent: Agent | undefined;

function start(m: StartMessage): void {
  const base = new URL(m.url);
  // One socket per watch: maxSockets unlimited and every request stays open.
  agent = new Agent({ keepAlive: true, ca: m.caPem });
  recv = Array.from({ length: m.watchers }, () => new Array<number>(m.expect).fill(Number.NaN));
  counts = new Array<number>(m.watchers).fill(0);
  let ready = 0;
  const marker = `"name":"${m.namePrefix}`;
  for (let w = 0; w < m.watchers; w++) {
    const times = recv[w]!;
    const req = httpsRequest(
      {
        host: base.hostname,
        port: base.port,
        path: m.path,
        agent,
        headers: { Authorization: `Bearer ${m.token}`, Accept: "application/json" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          send({ type: "error", message: `watch ${w}: HTTP ${res.statusCode}` });
          return;
        }
        if (++ready === m.watchers) send({ type: "ready" });
        let partial = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          const now = wallNow();
          const text = partial + chunk;
          let start = 0;
          for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
            const at = text.indexOf(marker, start);
            if (at >= 0 && at < nl) {
              const from = at + marker.length;
              const idx = Number(text.slice(from, text.indexOf('"', from)));
              if (Number.isInteger(idx) && idx >= 0 && idx < m.expect) {
                if (Number.isNaN(times[idx]!)) {
                  times[idx] = now;
                  counts[w]!++;
                } else duplicates++;
              }
            }
            start = nl + 1;
          }
          partial = text.slice(start);
        });
      },
    );
    req.on("error", (e) => send({ type: "error", message: `watch ${w}: ${e.message}` }));
    req.end();
  }
}

process.on("message", (m: ParentMessage) => {
  if (m.type === "start") start(m);
  else if (m.type === "ping") send({ type: "pong", t: m.t, child: wallNow() });
  else if (m.type === "progress") send({ type: "progress", delivered: counts.reduce((a, b) => a + b, 0) });
  else if (m.type === "collect") {
    // -1 = never received (NaN does not survive the JSON IPC channel).
    const out = recv.map((a) => a.map((x) => (Number.isNaN(x) ? -1 : x)));
    send({ type: "result", counts, duplicates, recv: out }, () => {
      agent?.destroy();
      process.disconnect();
    });
  }
});
