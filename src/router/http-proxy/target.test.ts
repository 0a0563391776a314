import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatIP } from "../../api/ip.js";
import {
  BadTargetError,
  type Host,
  hostHeaderAgrees,
  parseAbsoluteHttpUrl,
  parseAuthority,
  parseConnectTarget,
  parseHost,
} from "./target.js";

const show = (h: Host): string => (h.kind === "ip" ? `ip:${formatIP(h.ip)}` : `name:${h.name}`);

test("hosts: canonical literals, normalized names", () => {
  const table: [string, string][] = [
    ["127.0.0.3", "ip:127.0.0.3"],
    ["127.0.0.3.", "ip:127.0.0.3"],
    ["[::ffff:127.0.0.3]", "ip:127.0.0.3"],
    ["[::FFFF:7f00:3]", "ip:127.0.0.3"],
    ["[::127.0.0.3]", "ip:127.0.0.3"],
    ["[2001:db8::1]", "ip:2001:db8::1"],
    ["[::1]", "ip:::1"],
    ["Allowed.Example.", "name:allowed.example"],
    ["1.2.3.example", "name:1.2.3.example"],
  ];
  for (const [text, want] of table) assert.equal(show(parseHost(text)), want, text);
});

test("hosts a resolver could read differently are refused", () => {
  const refused = [
    "2130706435", // decimal
    "0177.0.0.3", // octal
    "0x7f000003", // hex
    "0x7f.0.0.3",
    "127.3", // short forms
    "127.0.3",
    "127.0.0.03",
    "127.0.0.3.0x",
    "127.0.0.%33", // percent-encoding
    "%31%32%37.0.0.3",
    "allowed.example@127.0.0.3",
    "a\\b",
    "[::ffff:127.0.0.3%eth0]",
    "[127.0.0.3]",
    "",
    "a..example",
    "exa mple",
    "ex\u0430mple.com", // non-ASCII look-alike
  ];
  for (const text of refused) assert.throws(() => parseHost(text), BadTargetError, text);
});

test("absolute-form URLs", () => {
  const ok: [string, string, number, string][] = [
    ["http://Example.COM/a?b=c", "name:example.com", 80, "/a?b=c"],
    ["HTTP://example.com:8080", "name:example.com", 8080, "/"],
    ["http://example.com?q", "name:example.com", 80, "/?q"],
    ["http://[::ffff:10.0.0.1]:81/x", "ip:10.0.0.1", 81, "/x"],
  ];
  for (const [url, host, port, path] of ok) {
    const t = parseAbsoluteHttpUrl(url);
    assert.deepEqual([show(t.authority.host), t.authority.port, t.path], [host, port, path], url);
  }
  for (const bad of [
    "/relative",
    "*",
    "https://example.com/",
    "ftp://example.com/",
    "http://allowed.example@127.0.0.3/",
    "http://allowed.example:80@127.0.0.3/",
    "http://127.0.0.2\\@127.0.0.3/",
    "http://example.com:0/",
    "http://example.com:65536/",
    "http://example.com:/",
    "http://example.com:80x/",
    "http:///path",
    "http://example.com/#frag",
    "http://2130706435/",
  ]) {
    assert.throws(() => parseAbsoluteHttpUrl(bad), BadTargetError, bad);
  }
});

test("CONNECT needs host:port; the Host header must agree", () => {
  const t = parseConnectTarget("Example.com.:443");
  assert.equal(show(t.host), "name:example.com");
  assert.throws(() => parseConnectTarget("example.com"), BadTargetError);
  assert.throws(() => parseConnectTarget("2130706435:443"), BadTargetError);
  assert.ok(hostHeaderAgrees(t, "example.com:443"));
  assert.ok(hostHeaderAgrees(t, "EXAMPLE.com"));
  assert.ok(!hostHeaderAgrees(t, "example.com:444"));
  assert.ok(!hostHeaderAgrees(t, "other.example:443"));
  assert.ok(!hostHeaderAgrees(t, "0x7f000001"));
  const lit = parseAuthority("127.0.0.2:8080", null);
  assert.ok(hostHeaderAgrees(lit, "[::ffff:127.0.0.2]:8080"));
  assert.ok(!hostHeaderAgrees(lit, "127.0.0.3:8080"));
});

test("property: every inet_aton spelling of an address is refused or means that address", () => {
  const octet = (n: number, style: number): string =>
    style === 0 ? String(n) : style === 1 ? `0${n.toString(8)}` : `0x${n.toString(16)}`;
  fc.assert(
    fc.property(
      fc.nat(0xffffffff),
      fc.array(fc.nat(2), { minLength: 4, maxLength: 4 }),
      fc.nat(3),
      (v, styles, form) => {
        const bytes = [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
        const texts = [
          bytes.map((b, i) => octet(b, styles[i]!)).join("."),
          String(v),
          `0x${v.toString(16)}`,
          `${bytes[0]}.${v & 0xffffff}`,
          `${bytes[0]}.${bytes[1]}.${v & 0xffff}`,
        ];
        const text = form === 0 ? texts[0]! : texts[form]!;
        let h: Host;
        try {
          h = parseHost(text);
        } catch (e) {
          assert.ok(e instanceof BadTargetError);
          return;
        }
        assert.equal(h.kind, "ip", text);
        assert.ok(h.kind === "ip" && h.ip.value === BigInt(v), text);
      },
    ),
    { numRuns: 500 },
  );
});
