// An in-memory IPAMStore for tests of the IPAM commands: same transaction and version rules as the
// file store (applyChange), no persistence. Must not be used by the plugin itself.
import type { Change, Snapshot } from "./allocator.js";
import { isEmptyChange } from "./allocator.js";
import { applyChange, type IPAMStore, type NetworkState, type StoreScope, snapshotOf } from "./store.js";

export class MemoryStore implements IPAMStore {
  readonly networks = new Map<string, NetworkState>();
  writes = 0;

  private state(network: string): NetworkState {
    return this.networks.get(network) ?? { pools: {}, reservations: {} };
  }

  async read(scope: StoreScope): Promise<Snapshot> {
    return snapshotOf(this.state(scope.network), scope);
  }

  async transact<T>(scope: StoreScope, fn: (snap: Snapshot) => { result: T; change: Change }): Promise<T> {
    const state = this.state(scope.network);
    const { result, change } = fn(snapshotOf(state, scope));
    if (!isEmptyChange(change)) {
      this.networks.set(scope.network, applyChange(state, change));
      this.writes++;
    }
    return result;
  }

  async close(): Promise<void> {}
}
