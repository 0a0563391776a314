// JSON merge patch (RFC 7386), as kube-apiserver applies `application/merge-patch+json`: null deletes
// a member, objects merge recursively, everything else (arrays included) replaces. Pure: no I/O; the
// inputs are never mutated and the result shares no structure with them.
//
// Departure from the RFC, following Kubernetes: the top-level patch must be a JSON object (the RFC
// would let `[1]` or `"x"` replace the whole document; kube-apiserver rejects such bodies).

import { PatchError } from "./errors.js";
import { cloneJson, isPlainObject, type JsonObject, kindName, setOwn } from "./json.js";

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) {
    throw new PatchError({
      patchType: "merge",
      path: "",
      detail: `patch must be a JSON object, got ${kindName(patch)}`,
      code: 400,
    });
  }
  const p = cloneJson(patch, "merge", "patch") as JsonObject;
  const t = target === undefined ? null : cloneJson(target, "merge", "target");
  return mergeInto(t, p);
}

/** RFC 7386 MergePatch on private copies: `target` may be reused in the result, `patch` values are
 *  moved into it (both are fresh clones owned by this module). */
function mergeInto(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: JsonObject = isPlainObject(target) ? target : {};
  for (const k of Object.keys(patch)) {
    const v = patch[k];
    if (v === null) {
      delete out[k];
    } else {
      setOwn(out, k, mergeInto(Object.hasOwn(out, k) ? out[k] : undefined, v));
    }
  }
  return out;
}
