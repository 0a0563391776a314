// PatchError: the one error type every patch engine in this folder throws. It names the patch type,
// where in the patch (or target) the problem is, and the offending value, and it knows which HTTP
// status the API server should answer with. Pure: no I/O, no logging.

import { ApiError } from "../../api/errors.js";

export type PatchEngine = "merge" | "json" | "strategic";

export interface PatchErrorInit {
  patchType: PatchEngine;
  /** Where the problem is: a JSON Pointer for json patch (`/spec/foo`), a field path for the others
   *  (`spec.containers[0].env`). Empty string means the document root. */
  path: string;
  /** What is wrong, without the location (e.g. "path not found"). */
  detail: string;
  /** 400 when the patch document itself is malformed, 422 when a well-formed patch does not apply
   *  to the target (Kubernetes answers jsonpatch failures and SMP conflicts with 422). */
  code?: 400 | 422;
  value?: unknown;
  /** json patch only: index of the failing operation in the ops array (0-based). */
  operationIndex?: number;
  /** json patch only: the op name as written (may be invalid, hence string). */
  op?: string;
}

const MAX_VALUE_CHARS = 120;

/** Compact JSON rendering of an offending value, cut so a huge patch cannot flood a message. */
export function describeValue(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS)}...` : s;
}

export class PatchError extends Error {
  readonly patchType: PatchEngine;
  readonly path: string;
  readonly detail: string;
  readonly code: 400 | 422;
  readonly value: unknown;
  readonly operationIndex: number | undefined;

  constructor(init: PatchErrorInit) {
    super(PatchError.format(init));
    this.name = "PatchError";
    this.patchType = init.patchType;
    this.path = init.path;
    this.detail = init.detail;
    this.code = init.code ?? 422;
    this.value = init.value;
    this.operationIndex = init.operationIndex;
  }

  private static format(init: PatchErrorInit): string {
    const v = "value" in init ? `: ${describeValue(init.value)}` : "";
    if (init.patchType === "json" && init.operationIndex !== undefined) {
      return `json patch operation ${init.operationIndex} (${init.op ?? "?"} ${init.path}): ${init.detail}${v}`;
    }
    const name =
      init.patchType === "merge"
        ? "merge patch"
        : init.patchType === "json"
          ? "json patch"
          : "strategic merge patch";
    const where = init.path === "" ? "" : ` at ${init.path}`;
    return `${name}${where}: ${init.detail}${v}`;
  }

  /** The Status the API server sends back: 400 BadRequest for malformed patches, 422 Invalid when a
   *  patch does not apply (what kube-apiserver answers for jsonpatch and SMP conflicts). */
  toApiError(): ApiError {
    return this.code === 400 ? ApiError.badRequest(this.message) : new ApiError(422, "Invalid", this.message);
  }
}
