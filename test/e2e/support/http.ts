// A minimal HTTPS client for tests that need exact control over requests to the API server.
import { request as httpsRequest } from "node:https";

export interface Endpoint {
  url: string;
  caPem: string;
  token: string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): Record<string, unknown>;
}

export function call(
  ep: Endpoint,
  method: string,
  path: string,
  opts: {
    body?: string | Buffer;
    contentType?: string;
    headers?: Record<string, string>;
    auth?: boolean;
    timeoutMs?: number;
  } = {},
): Promise<RawResponse> {
  const u = new URL(path, ep.url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      u,
      {
        method,
        ca: ep.caPem,
        headers: {
          ...(opts.auth === false ? {} : { Authorization: `Bearer ${ep.token}` }),
          ...(opts.body !== undefined ? { "Content-Type": opts.contentType ?? "application/json" } : {}),
          ...opts.headers,
        },
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => JSON.parse(body) as Record<string, unknown>,
          });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`request ${method} ${path} timed out`)));
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}
