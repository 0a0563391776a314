#!/bin/bash
# Reproduces the kernel behaviour behind the intermittent EgressNetworkPolicy reorder leak
# (atomicity-under-load.test.ts, docs/policy.md "Whole-table replacement is not packet-atomic").
# Not a test: a manual experiment (root, ~75 s). Three namespaces lkc (client) -> lkr (router) -> lks
# (server); lkr's table `inet egress-policy` drops everything to lks through a verdict map, behind
# 3000 no-op rules that stretch the time between a packet's read of the ruleset generation and its
# map lookup. A UDP flood runs while the table is rewritten in a loop with one of three strategies;
# lks counts the packets that got through (every one is a leak):
#   A  `table T {}; delete table T; table T {...}` (what the agents apply today)
#   B  keep table and base chain: `flush table T; delete map T m; table T {...}`
#   C  keep the base chain, new map name per generation, `flush chain T forward`, delete the map of
#      the generation before last (never one the previous rules still use)
# Seen on kernel 6.18 (2 vCPUs): A 6 leaks / 105 rewrites, B 12 / 110, C 0 / 212.
# Only the namespaces it creates are touched; they are deleted at the end (also on Ctrl-C).
set -u
DIR=$(mktemp -d)
cleanup() { for n in lkc lkr lks; do ip netns del $n 2>/dev/null; done; rm -rf "$DIR"; }
trap cleanup EXIT
for n in lkc lkr lks; do ip netns add $n; done
ip link add lkc0 netns lkc type veth peer name lkr0 netns lkr
ip link add lkr1 netns lkr type veth peer name lks0 netns lks
ip -n lkc addr add 10.77.0.2/24 dev lkc0; ip -n lkc link set lkc0 up
ip -n lkr addr add 10.77.0.1/24 dev lkr0; ip -n lkr link set lkr0 up
ip -n lkr addr add 10.77.1.1/24 dev lkr1; ip -n lkr link set lkr1 up
ip -n lks addr add 10.77.1.2/24 dev lks0; ip -n lks link set lks0 up
ip -n lkc route add default via 10.77.0.1
ip -n lks route add default via 10.77.1.1
ip netns exec lkr sysctl -qw net.ipv4.ip_forward=1
printf 'table inet cnt {\n counter got { }\n chain in {\n type filter hook input priority 0; policy accept;\n ip saddr 10.77.0.2 udp dport 9 counter name got\n }\n}\n' |
  ip netns exec lks nft -f -
cat >"$DIR/flood.mjs" <<'JS'
import dgram from "node:dgram";
const s = dgram.createSocket("udp4");
const end = Date.now() + Number(process.argv[2]);
const buf = Buffer.from("x");
(function burst() {
  for (let i = 0; i < 200; i++) s.send(buf, 9, "10.77.1.2");
  if (Date.now() < end) setImmediate(burst); else setTimeout(() => s.close(), 200);
})();
JS
python3 - "$DIR" <<'PY'
import sys
d = sys.argv[1]
T = "inet egress-policy"
def body(m):
    out = [f"\tmap {m} {{", "\t\ttype ipv4_addr : verdict", "\t\telements = { 10.77.1.2 : drop }", "\t}",
           "\tchain forward {", "\t\ttype filter hook forward priority filter; policy accept;"]
    out += [f"\t\tip daddr 10.99.{i//250}.{i%250} counter" for i in range(3000)]
    return out + [f"\t\tip daddr vmap @{m}", "\t}", "}"]
w = lambda f, l: open(f"{d}/{f}", "w").write("\n".join(l) + "\n")
w("A.nft", [f"table {T} {{}}", f"delete table {T}", f"table {T} {{"] + body("dmap"))
w("B.nft", [f"table {T} {{}}", f"flush table {T}", f"delete map {T} dmap", f"table {T} {{"] + body("dmap"))
for k in range(2000):
    pre = [f"table {T} {{}}"] + ([f"flush chain {T} forward"] if k else []) + ([f"delete map {T} dmap{k-2}"] if k >= 2 else [])
    w(f"C{k}.nft", pre + [f"table {T} {{"] + body(f"dmap{k}"))
PY
race() { # strategy
  ip netns exec lkr nft delete table inet egress-policy 2>/dev/null
  if [ "$1" = C ]; then ip netns exec lkr nft -f "$DIR/C0.nft"; k=1; else ip netns exec lkr nft -f "$DIR/A.nft"; fi
  ip netns exec lks nft reset counter inet cnt got >/dev/null
  ip netns exec lkc node "$DIR/flood.mjs" 21000 & local flood=$!
  sleep 0.5; local n=0 end=$((SECONDS + 20))
  while [ $SECONDS -lt $end ]; do
    if [ "$1" = C ]; then ip netns exec lkr nft -f "$DIR/C$k.nft"; k=$((k + 1)); else ip netns exec lkr nft -f "$DIR/$1.nft"; fi
    n=$((n + 1))
  done
  wait $flood
  echo "strategy $1: $n rewrites, leaked: $(ip netns exec lks nft list counter inet cnt got | grep -o 'packets [0-9]*')"
}
race A; race B; race C
