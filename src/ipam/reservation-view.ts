// The ReadonlyMap plumbing shared by reservation views that compute their entries on demand (the
// kubernetes store's lazily fetched reservations, the daemon's per-batch overlay): subclasses give
// `get` and the entries present now; size, has and iteration follow from those. Pure.
import type { OverlappingRangeIPReservation } from "./model.js";

type Reservation = OverlappingRangeIPReservation;

export abstract class ReservationView implements ReadonlyMap<string, Reservation> {
  abstract get(name: string): Reservation | undefined;

  /** The reservations present now (a fresh map; iteration order is the subclass's). */
  protected abstract present(): Map<string, Reservation>;

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  get size(): number {
    return this.present().size;
  }
  forEach(cb: (v: Reservation, k: string, m: ReadonlyMap<string, Reservation>) => void): void {
    for (const [k, v] of this.present()) cb(v, k, this);
  }
  entries(): MapIterator<[string, Reservation]> {
    return this.present().entries();
  }
  keys(): MapIterator<string> {
    return this.present().keys();
  }
  values(): MapIterator<Reservation> {
    return this.present().values();
  }
  [Symbol.iterator](): MapIterator<[string, Reservation]> {
    return this.present().entries();
  }
}
