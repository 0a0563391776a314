// Child process for crash.test.ts: opens the store in argv[2] and issues writes (puts, CAS updates,
// deletes, and optionally compactions) forever, 16 at a time, until it is SIGKILLed. Protocol on
// stdout, one line per event:
//   READY <revision>                       store opened
//   SEND <id> <put|cas|del> <key>          a write is about to be issued (value carries the id)
//   ACK <id> <modRevision>                 that write's promise resolved (it is durable)
//   FAIL <id>                              it was rejected (CAS conflict or absent key)
// A lost or cut ACK only makes the parent's check weaker; a lost SEND would make it wrong, so the
// worker waits until each SEND line has been written to the pipe before issuing the write.
import { openStore } from "./durable.js";

const [dir, idBaseText, mode] = process.argv.slice(2);
if (!dir || !idBaseText) {
  process.stderr.write("usage: crash-worker <dir> <idBase> [compact]\n");
  process.exit(2);
}
const compacting = mode === "compact";
const store = await openStore(dir, compacting ? { segmentBytes: 32 * 1024 } : {});
const out = (line: string): void => {
  process.stdout.write(line + "\n");
};
/** Resolves once the line is in the pipe. A SEND must reach the parent before its write is issued:
 *  when the parent reads slowly the pipe fills and Node queues stdout writes in memory, where a
 *  SIGKILL would lose them. */
const send = (line: string): Promise<void> =>
  new Promise((resolve, reject) =>
    process.stdout.write(line + "\n", (err) => (err ? reject(err) : resolve())),
  );
out(`READY ${store.revision()}`);

const KEYS = 40;
const pad = "p".repeat(400);
let id = Number(idBaseText);
let ops = 0;

async function one(): Promise<void> {
  const my = id++;
  const key = `/registry/crash/k${Math.floor(Math.random() * KEYS)}`;
  const value = JSON.stringify({ id: my, key, pad });
  const r = Math.random();
  const kind = r < 0.45 ? "put" : r < 0.8 ? "cas" : "del";
  try {
    let rev: number;
    if (kind === "put") {
      await send(`SEND ${my} put ${key}`);
      rev = (await store.put(key, value)).modRevision;
    } else if (kind === "cas") {
      const cur = await store.get(key);
      await send(`SEND ${my} cas ${key}`);
      rev = (await store.put(key, value, { expectModRevision: cur?.modRevision ?? 0 })).modRevision;
    } else {
      await send(`SEND ${my} del ${key}`);
      rev = (await store.delete(key)).modRevision;
    }
    out(`ACK ${my} ${rev}`);
  } catch {
    out(`FAIL ${my}`);
  }
  if (compacting && ++ops % 150 === 0) void store.compact(store.revision()).catch(() => undefined);
}

async function lane(): Promise<void> {
  for (;;) await one();
}
await Promise.all(Array.from({ length: 16 }, lane));
