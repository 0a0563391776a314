// UDP peers for dataplane e2e tests, driven by lines on stdin/stdout. Run inside a test namespace:
//   node udp-peer.js sink <host>                 prints its port, then one line per datagram: the
//                                                source address as seen here; answers each with "ok"
//   node udp-peer.js flows <host> <port> <k>     k sockets (k flows, one source port each); on each
//                                                stdin line "send" every socket sends one datagram,
//                                                then prints the number of answers within 500 ms
import { createSocket, type Socket } from "node:dgram";
import { createInterface } from "node:readline";

const [mode, host = "0.0.0.0", portText = "0", kText = "1"] = process.argv.slice(2);

if (mode === "sink") {
  const s = createSocket("udp4");
  s.on("message", (_m, rinfo) => {
    process.stdout.write(`${rinfo.address}\n`);
    s.send("ok", rinfo.port, rinfo.address);
  });
  s.bind(0, host, () => process.stdout.write(`${s.address().port}\n`));
} else if (mode === "flows") {
  const sockets: Socket[] = [];
  let answers = 0;
  for (let i = 0; i < Number(kText); i++) {
    const s = createSocket("udp4");
    s.on("message", () => answers++);
    s.bind(0);
    sockets.push(s);
  }
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (line.trim() !== "send") return;
    answers = 0;
    for (const s of sockets) s.send("x", Number(portText), host);
    setTimeout(() => process.stdout.write(`${answers}\n`), 500);
  });
} else {
  process.stderr.write(`udp-peer: unknown mode ${JSON.stringify(mode)}\n`);
  process.exit(2);
}
