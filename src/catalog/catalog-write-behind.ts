import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { HiveCapabilities, HiveStatus } from '../domain/fleet';
import { QueenConfig } from '../platform/config/queen-config';
import type { HiveChange } from './catalog.types';
import { HiveCatalog } from './hive-catalog.service';

interface StatusChange {
  status: HiveStatus;
  at: Date | undefined;
}

class HeartbeatTime {
  noted = 0;
  written = 0;
}

export interface FlushReport {
  hives: number;
  durationMs: number;
}

/**
 * What the heartbeat path hands the catalog, so that it never waits on SQL.
 *
 * Heartbeat times are coalesced: the latest per hive is kept and all are
 * written in one transaction every CATALOG_FLUSH_MS and at shutdown. Status
 * transitions and new capabilities are written promptly, once each, and what
 * piles up while one such write runs goes into the next, in one transaction. A failed
 * write keeps its data (unless newer data replaced it) for the next attempt.
 */
@Injectable()
export class CatalogWriteBehind implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(CatalogWriteBehind.name);
  /** Per hive, for its life: the latest heartbeat time noted, and the latest written. Updated in place: nothing is allocated per beat. */
  private readonly heartbeatTimes = new Map<string, HeartbeatTime>();
  /** Hives with a time to write: a flush reads these, not the whole fleet. */
  private dirty = new Set<string>();
  private readonly statuses = new Map<string, StatusChange>();
  private readonly capabilities = new Map<string, HiveCapabilities>();
  private promptWrites: Promise<void> | null = null;
  private promptScheduled = false;
  private heartbeatFlush: Promise<FlushReport | null> | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** Observers of flushes (metrics); kept free of Nest so the class stays testable. */
  onFlush: ((report: FlushReport) => void) | null = null;

  constructor(
    private readonly catalog: HiveCatalog,
    private readonly config: QueenConfig,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.config.catalogFlushMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    const heartbeats = this.pendingHeartbeats;
    const changedHives = this.hivesWithPendingChanges();
    await this.flush();
    const unwritten = this.pendingHeartbeats + this.hivesWithPendingChanges();
    if (unwritten > 0) this.logger.error(`shutdown: ${unwritten} hive(s) with changes the catalog could not take; they are lost`);
    else this.logger.log(`shutdown: catalog flushed (${heartbeats} heartbeat time(s), status or capability changes of ${changedHives} hive(s))`);
  }

  private hivesWithPendingChanges(): number {
    let count = this.statuses.size;
    for (const id of this.capabilities.keys()) if (!this.statuses.has(id)) count++;
    return count;
  }

  get pendingHeartbeats(): number {
    let pending = 0;
    for (const id of this.dirty) {
      const time = this.heartbeatTimes.get(id);
      if (time !== undefined && time.noted > time.written) pending++;
    }
    return pending;
  }

  /** `at`: epoch ms on the queen's clock. */
  noteHeartbeat(hiveId: string, at: number): void {
    let time = this.heartbeatTimes.get(hiveId);
    if (time === undefined) {
      time = new HeartbeatTime();
      this.heartbeatTimes.set(hiveId, time);
    }
    time.noted = at;
    this.dirty.add(hiveId);
  }

  noteStatus(hiveId: string, status: HiveStatus, at?: Date): void {
    this.statuses.set(hiveId, { status, at });
    this.schedulePrompt();
  }

  noteCapabilities(hiveId: string, capabilities: HiveCapabilities): void {
    this.capabilities.set(hiveId, capabilities);
    this.schedulePrompt();
  }

  /** Writes soon, once for all changes noted in this turn of the event loop (a sweep marks many hives at once). */
  private schedulePrompt(): void {
    if (this.promptScheduled) return;
    this.promptScheduled = true;
    setImmediate(() => {
      this.promptScheduled = false;
      void this.writePrompt();
    });
  }

  /** Drops what is pending for a hive deleted from the catalog, so a hive registered later under its id does not inherit it. */
  forget(hiveId: string): void {
    this.heartbeatTimes.delete(hiveId);
    this.dirty.delete(hiveId);
    this.statuses.delete(hiveId);
    this.capabilities.delete(hiveId);
  }

  /** Writes everything pending: prompt changes, then the coalesced heartbeat times. */
  async flush(): Promise<void> {
    await this.writePrompt();
    await this.flushHeartbeats();
  }

  /** One transaction for all hives' latest heartbeat times; concurrent callers share it. */
  flushHeartbeats(): Promise<FlushReport | null> {
    this.heartbeatFlush ??= this.writeHeartbeats().finally(() => (this.heartbeatFlush = null));
    return this.heartbeatFlush;
  }

  private async writeHeartbeats(): Promise<FlushReport | null> {
    const dirty = this.dirty;
    this.dirty = new Set();
    const batch = new Map<string, Date>();
    const writing: [HeartbeatTime, number][] = [];
    for (const id of dirty) {
      const time = this.heartbeatTimes.get(id);
      if (time === undefined || time.noted <= time.written) continue;
      batch.set(id, new Date(time.noted));
      writing.push([time, time.noted]);
    }
    if (batch.size === 0) return null;
    const started = performance.now();
    try {
      await this.catalog.recordHeartbeats(batch);
    } catch (error) {
      // Nothing is marked written: the next tick writes the latest of each again.
      for (const id of batch.keys()) this.dirty.add(id);
      this.logger.warn(`could not write ${batch.size} heartbeat time(s), will retry: ${(error as Error).message}`);
      return null;
    }
    // A beat noted while the write ran is newer than what was written, and stays pending.
    for (const [time, at] of writing) time.written = at;
    const report = { hives: batch.size, durationMs: performance.now() - started };
    this.onFlush?.(report);
    return report;
  }

  /** Status and capability changes, all pending in one transaction; concurrent callers share a pass. */
  private writePrompt(): Promise<void> {
    if (this.promptWrites) return this.promptWrites.then(() => this.writePrompt());
    if (this.statuses.size === 0 && this.capabilities.size === 0) return Promise.resolve();
    this.promptWrites = this.writePendingChanges().finally(() => (this.promptWrites = null));
    return this.promptWrites;
  }

  private async writePendingChanges(): Promise<void> {
    const statuses = new Map(this.statuses);
    const capabilities = new Map(this.capabilities);
    const changes = new Map<string, HiveChange>();
    for (const [id, { status, at }] of statuses) changes.set(id, { status, lastHeartbeatAt: at });
    for (const [id, offered] of capabilities) changes.set(id, { ...changes.get(id), capabilities: offered });
    try {
      await this.catalog.recordChanges(changes);
    } catch (error) {
      this.logger.warn(`could not write ${changes.size} hive change(s) to the catalog, will retry: ${(error as Error).message}`);
      return;
    }
    // Forget what was written, unless a newer change for the same hive arrived meanwhile.
    for (const [id, change] of statuses) if (this.statuses.get(id) === change) this.statuses.delete(id);
    for (const [id, offered] of capabilities) if (this.capabilities.get(id) === offered) this.capabilities.delete(id);
  }
}
