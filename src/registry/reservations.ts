import BTree from 'sorted-btree';
import type { Reservation } from './registry.types';

const byExpiry = (a: Reservation, b: Reservation): number =>
  a.expiresAt - b.expiresAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Every reservation held, findable by id and by worker, and ordered by expiry
 * so that ending the expired ones costs only what expired. The registry owns
 * one and keeps each hive's usage in step with it.
 */
export class ReservationBook {
  private readonly byId = new Map<string, Reservation>();
  private readonly byWorkerId = new Map<string, Reservation>();
  private readonly expiring = new BTree<Reservation, undefined>(undefined, byExpiry);

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Reservation | undefined {
    return this.byId.get(id);
  }

  ofWorker(workerId: string): Reservation | undefined {
    return this.byWorkerId.get(workerId);
  }

  values(): IterableIterator<Reservation> {
    return this.byId.values();
  }

  add(reservation: Reservation): void {
    this.byId.set(reservation.id, reservation);
    this.byWorkerId.set(reservation.workerId, reservation);
    this.expiring.set(reservation, undefined);
  }

  remove(reservation: Reservation): void {
    this.byId.delete(reservation.id);
    if (this.byWorkerId.get(reservation.workerId) === reservation) this.byWorkerId.delete(reservation.workerId);
    this.expiring.delete(reservation);
  }

  /** The reservation that expires first, if any: reads on every registry call check it, so it allocates nothing. */
  firstToExpire(): Reservation | undefined {
    return this.expiring.minKey();
  }
}
