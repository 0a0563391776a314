// Checked accessors for the lab topology's validators (topology.ts, secondary.ts): each appends a
// FieldError naming the field path and the offending value to one shared list instead of throwing,
// so a topology file reports all its mistakes at once. Pure: no I/O.
import { type FieldError, invalid, required } from "../api/errors.js";
import { type CIDR, cidrContains, formatCIDR, formatIPv4, parseIP } from "../api/ip.js";
import { isRecord } from "../api/object.js";
import { isObjectName } from "./names.js";

/** Ports of an echo server (src/lab/echo-server.ts). */
export interface EchoPorts {
  tcp: number[];
  udp: number[];
  http: number[];
}

/** Small checked accessors that append to one error list. */
export class Reader {
  constructor(private readonly errs: FieldError[]) {}

  record(v: unknown, field: string): v is Record<string, unknown> {
    if (isRecord(v)) return true;
    this.errs.push(v === undefined ? required(field) : invalid(field, v, "expected a mapping"));
    return false;
  }

  list(v: unknown, field: string, needed: boolean): unknown[] {
    if (v === undefined || v === null) {
      if (needed) this.errs.push(required(field));
      return [];
    }
    if (!Array.isArray(v)) {
      this.errs.push(invalid(field, v, "expected a list"));
      return [];
    }
    return v;
  }

  noUnknown(v: Record<string, unknown>, field: string, known: string[]): void {
    for (const k of Object.keys(v))
      if (!known.includes(k))
        this.errs.push(
          invalid(field === "" ? k : `${field}.${k}`, k, `unknown field (known: ${known.join(", ")})`),
        );
  }

  name(v: unknown, field: string): string | undefined {
    if (typeof v === "string" && isObjectName(v)) return v;
    this.errs.push(
      v === undefined
        ? required(field)
        : invalid(field, v, "expected 1-20 characters of [a-z0-9-], starting and ending alphanumeric"),
    );
    return undefined;
  }

  port(v: unknown, field: string): number | undefined {
    if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
    this.errs.push(invalid(field, v, "expected a port number 1-65535"));
    return undefined;
  }

  /** Echo server ports `{tcp, udp, http}` (each optional; tcp and http share TCP ports). */
  echo(v: unknown, f: string): EchoPorts | undefined {
    if (!this.record(v, f)) return undefined;
    this.noUnknown(v, f, ["tcp", "udp", "http"]);
    const ports = (k: "tcp" | "udp" | "http") =>
      this.list(v[k], `${f}.${k}`, false)
        .map((p, j) => this.port(p, `${f}.${k}[${j}]`))
        .filter((p): p is number => p !== undefined);
    const echo = { tcp: ports("tcp"), udp: ports("udp"), http: ports("http") };
    const tcpLike = [...echo.tcp, ...echo.http];
    if (new Set(tcpLike).size !== tcpLike.length)
      this.errs.push(invalid(f, tcpLike, "a TCP port is listed twice (tcp and http share TCP ports)"));
    return echo;
  }

  /** A plain IPv4 address inside one of `cidrs` (canonical text), or an error. */
  ipIn(v: unknown, field: string, cidrs: CIDR[]): string | undefined {
    const ip = typeof v === "string" ? parseIP(v) : undefined;
    if (ip?.family !== 4) {
      this.errs.push(v === undefined ? required(field) : invalid(field, v, "expected a plain IPv4 address"));
      return undefined;
    }
    if (!cidrs.some((c) => cidrContains(c, ip))) {
      this.errs.push(
        invalid(field, v, `not inside ${cidrs.map(formatCIDR).join(", ") || "any subnet of the network"}`),
      );
      return undefined;
    }
    return formatIPv4(ip.value);
  }
}
