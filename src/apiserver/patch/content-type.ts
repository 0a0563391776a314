// Maps a PATCH request's Content-Type to the patch type kube-apiserver would apply. Pure: no I/O.

export type PatchType = "merge" | "json" | "strategic" | "apply";

const TYPES: Readonly<Record<string, PatchType>> = {
  "application/merge-patch+json": "merge",
  "application/json-patch+json": "json",
  "application/strategic-merge-patch+json": "strategic",
  "application/apply-patch+yaml": "apply",
};

/** Media type parameters (`; charset=utf-8`) and case are ignored; unknown types give undefined (the
 *  server answers 415 Unsupported Media Type). */
export function patchTypeFromContentType(ct: string): PatchType | undefined {
  const mediaType = ct.split(";", 1)[0]!.trim().toLowerCase();
  return Object.hasOwn(TYPES, mediaType) ? TYPES[mediaType] : undefined;
}
