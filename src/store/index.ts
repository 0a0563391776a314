// Public entry of the store: the interface, its errors, the in-memory and the durable implementation.
export { DurableStore, openStore, type RecoveryInfo } from "./durable.js";
export * from "./errors.js";
export { MemoryStore } from "./kv.js";
export type * from "./types.js";
