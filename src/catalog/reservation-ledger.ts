import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ClusterLink } from '../platform/cluster/cluster-link';
import { QueenConfig } from '../platform/config/queen-config';
import type { Reservation } from '../registry/registry.types';

/** A hold another queen wrote, as this queen's placement takes it in. */
export interface HeldElsewhere extends Reservation {
  /** Its queen let it go (the hive refused the worker, or it was stopped). */
  released: boolean;
}

/** The advisory lock key every queen's placement takes: one fleet-wide turn ("queen" in ASCII). */
const PLACEMENT_LOCK = 0x717565656e;
/** Rows this long past their expiry are deleted by the next placement. */
const KEEP_EXPIRED_MS = 60_000;

interface ReservationRow {
  id: string;
  queen_id: string;
  hive_id: string;
  worker_id: string;
  model_id: string;
  backend: Reservation['backend'];
  device_id: number | null;
  device: string;
  vram_bytes: string;
  ram_bytes: string;
  created_at: string;
  expires_at: string;
  released: boolean;
}

/**
 * Placement, serialised fleet-wide. A queen on its own decides in one synchronous step of its
 * registry, which nothing can interleave. Several queens take turns on a PostgreSQL transaction-level
 * advisory lock: inside it a queen reads the capacity the others hold (rows of
 * `cluster_reservations`), decides, and writes its own hold before the turn ends, so concurrent
 * starts on several queens never claim the same memory. Holds end on their own at expiry; the row of
 * one let go early is marked so.
 */
@Injectable()
export class ReservationLedger {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cluster: ClusterLink,
    private readonly config: QueenConfig,
  ) {}

  /**
   * Runs `decide` in the fleet's one placement turn, handing it the holds of other queens still in
   * force at `now`; the hold it returns (if any) is written before the turn ends.
   */
  async serialise(now: number, decide: (heldElsewhere: HeldElsewhere[]) => Reservation | null): Promise<Reservation | null> {
    if (!this.cluster.clustered) return decide([]);
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [PLACEMENT_LOCK]);
      await manager.query('DELETE FROM cluster_reservations WHERE expires_at < $1', [now - KEEP_EXPIRED_MS]);
      const rows: ReservationRow[] = await manager.query('SELECT * FROM cluster_reservations WHERE expires_at > $1 AND queen_id <> $2', [now, this.config.queenId]);
      const reservation = decide(rows.map(toHeld));
      if (reservation) await this.insert(manager, reservation);
      return reservation;
    });
  }

  /** Tells the other queens a hold of this queen's ended early. */
  async released(reservationId: string): Promise<void> {
    if (!this.cluster.clustered) return;
    await this.dataSource.query('UPDATE cluster_reservations SET released = true WHERE id = $1', [reservationId]);
  }

  private async insert(manager: EntityManager, r: Reservation): Promise<void> {
    await manager.query(
      'INSERT INTO cluster_reservations (id, queen_id, hive_id, worker_id, model_id, backend, device_id, device, vram_bytes, ram_bytes, created_at, expires_at, released) ' +
        'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, false)',
      [r.id, this.config.queenId, r.hiveId, r.workerId, r.modelId, r.backend, r.deviceId, r.device, r.vramBytes, r.ramBytes, r.createdAt, r.expiresAt],
    );
  }
}

function toHeld(row: ReservationRow): HeldElsewhere {
  return {
    id: row.id,
    hiveId: row.hive_id,
    workerId: row.worker_id,
    modelId: row.model_id,
    backend: row.backend,
    deviceId: row.device_id,
    device: row.device,
    vramBytes: Number(row.vram_bytes),
    ramBytes: Number(row.ram_bytes),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    released: row.released,
  };
}
