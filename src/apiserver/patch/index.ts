// Public face of the PATCH engine: the three patch algorithms kube-apiserver applies, their error type,
// and the Content-Type mapping. Pure: nothing here does I/O; the API server's handler decodes the
// body, picks the engine and stores the result.

export { type PatchType, patchTypeFromContentType } from "./content-type.js";
export { type PatchEngine, PatchError, type PatchErrorInit } from "./errors.js";
export { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS } from "./json-patch.js";
export { applyMergePatch } from "./merge-patch.js";
export type { JSONSchemaObject, PatchMeta } from "./schema.js";
export { applyStrategicMergePatch } from "./strategic.js";
