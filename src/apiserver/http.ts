// Small HTTP helpers for the API server: bounded body reading, content decoding, JSON and Status
// responses, query parsing. No Kubernetes semantics here.
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import { ApiError } from "../api/errors.js";
import { isRecord } from "../api/object.js";
import { decodeKubernetesProtobuf, isProtobufContentType } from "./protobuf/index.js";

/** Kubernetes' limit for request bodies is 3 MiB. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) {
    req.resume();
    throw new ApiError(
      413,
      "RequestEntityTooLarge",
      `the request body is ${declared} bytes; the limit is ${limit} bytes`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) {
      req.resume();
      throw new ApiError(
        413,
        "RequestEntityTooLarge",
        `the request body is larger than the limit of ${limit} bytes`,
      );
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Decodes a create/update body: JSON, YAML or Kubernetes protobuf. */
export function decodeObject(body: Buffer, contentType: string | undefined): Record<string, unknown> {
  if (body.length === 0) throw ApiError.badRequest("the request body is empty");
  const mt = mediaType(contentType);
  let v: unknown;
  if (isProtobufContentType(mt)) {
    try {
      v = decodeKubernetesProtobuf(body).object;
    } catch (e) {
      throw ApiError.badRequest(`protobuf decoding error: ${(e as Error).message}`);
    }
  } else if (mt === "application/yaml" || mt === "application/x-yaml" || mt === "text/yaml") {
    try {
      v = parseYaml(body.toString("utf8"), { maxAliasCount: 100 });
    } catch (e) {
      throw ApiError.badRequest(`yaml parse error: ${(e as Error).message.split("\n")[0]}`);
    }
  } else {
    v = parseJson(body);
  }
  if (!isRecord(v)) throw ApiError.badRequest("the request body must be a JSON object");
  return v;
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (e) {
    throw ApiError.badRequest(`couldn't decode the request body as JSON: ${(e as Error).message}`);
  }
}

export function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-cache, private",
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e =
    err instanceof ApiError ? err : ApiError.internal(err instanceof Error ? err.message : String(err));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, e.code, e.toStatus());
}

/** `Warning` response headers (RFC 7234 style, as Kubernetes sends them). */
export function warningHeaders(warnings: string[]): Record<string, string[]> {
  if (warnings.length === 0) return {};
  return { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) };
}

export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((p) => /;\s*as=Table/.test(p) && /g=meta\.k8s\.io/.test(p));
}
