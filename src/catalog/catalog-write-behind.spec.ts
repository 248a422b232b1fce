import type { HiveCapabilities, HiveStatus } from '../domain/fleet';
import type { QueenConfig } from '../platform/config/queen-config';
import type { HiveChange } from './catalog.types';
import type { HiveCatalog } from './hive-catalog.service';
import { CatalogWriteBehind } from './catalog-write-behind';

/** A promise settled from outside, to hold a write in flight. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The catalog writes CatalogWriteBehind makes, recorded; each call copies its batch. A batch
 * of changes is recorded as one setStatus/setCapabilities call per change, and fails whole
 * when any of them is made to fail, as the catalog's one transaction does.
 */
function stubCatalog() {
  const stub = {
    batches: [] as Map<string, Date>[],
    statuses: [] as [string, HiveStatus, Date | undefined][],
    capabilities: [] as [string, HiveCapabilities][],
    recordHeartbeats: jest.fn(async (batch: ReadonlyMap<string, Date>) => {
      stub.batches.push(new Map(batch));
    }),
    setStatus: jest.fn(async (id: string, status: HiveStatus, at?: Date) => {
      stub.statuses.push([id, status, at]);
    }),
    setCapabilities: jest.fn(async (id: string, capabilities: HiveCapabilities) => {
      stub.capabilities.push([id, capabilities]);
      return true;
    }),
    recordChanges: jest.fn(async (changes: ReadonlyMap<string, HiveChange>) => {
      for (const [id, change] of changes) {
        if (change.status) await stub.setStatus(id, change.status, change.lastHeartbeatAt);
        if (change.capabilities) await stub.setCapabilities(id, change.capabilities);
      }
    }),
  };
  return stub;
}

const config = { catalogFlushMs: 600_000 } as QueenConfig;
const t = (seconds: number) => new Date(Date.UTC(2026, 10, 27, 10, 0, seconds));
const caps = (ramGiB: number): HiveCapabilities => ({
  cpuCores: 8,
  ramBytes: ramGiB * 2 ** 30,
  gpus: [{ index: 0, name: 'L4', vramBytes: 24 * 2 ** 30, backend: 'cuda' }],
});

describe('CatalogWriteBehind', () => {
  let catalog: ReturnType<typeof stubCatalog>;
  let writeBehind: CatalogWriteBehind;

  beforeEach(() => {
    catalog = stubCatalog();
    writeBehind = new CatalogWriteBehind(catalog as unknown as HiveCatalog, config);
    jest.spyOn(writeBehind['logger'], 'warn').mockImplementation(() => undefined);
  });

  describe('heartbeat times', () => {
    it('writes nothing until flushed, then the latest time per hive in one batch', async () => {
      writeBehind.noteHeartbeat('a', t(1).getTime());
      writeBehind.noteHeartbeat('b', t(2).getTime());
      writeBehind.noteHeartbeat('a', t(3).getTime());
      writeBehind.noteHeartbeat('a', t(5).getTime());
      expect(writeBehind.pendingHeartbeats).toBe(2);
      expect(catalog.recordHeartbeats).not.toHaveBeenCalled();

      await writeBehind.flush();
      expect(catalog.batches).toEqual([
        new Map([
          ['a', t(5)],
          ['b', t(2)],
        ]),
      ]);
      expect(writeBehind.pendingHeartbeats).toBe(0);
    });

    it('writes nothing, not even an empty batch, when nothing is pending', async () => {
      await writeBehind.flush();
      await expect(writeBehind.flushHeartbeats()).resolves.toBeNull();
      expect(catalog.recordHeartbeats).not.toHaveBeenCalled();
      expect(catalog.setStatus).not.toHaveBeenCalled();
    });

    it('reports each successful flush', async () => {
      const reports: { hives: number }[] = [];
      writeBehind.onFlush = (report) => reports.push(report);
      writeBehind.noteHeartbeat('a', t(1).getTime());
      writeBehind.noteHeartbeat('b', t(1).getTime());
      await expect(writeBehind.flushHeartbeats()).resolves.toMatchObject({ hives: 2 });
      expect(reports).toEqual([{ hives: 2, durationMs: expect.any(Number) }]);
    });

    it('keeps a failed batch for the next flush, except what newer beats replaced meanwhile', async () => {
      const inFlight = deferred();
      catalog.recordHeartbeats.mockImplementationOnce(async (batch) => {
        catalog.batches.push(new Map(batch));
        await inFlight.promise;
      });
      writeBehind.noteHeartbeat('a', t(1).getTime());
      writeBehind.noteHeartbeat('b', t(1).getTime());
      const failing = writeBehind.flush();
      await settle();
      expect(catalog.recordHeartbeats).toHaveBeenCalledTimes(1);

      // Beats arriving while the write is in flight: newer for b, new hive c.
      writeBehind.noteHeartbeat('b', t(7).getTime());
      writeBehind.noteHeartbeat('c', t(8).getTime());
      inFlight.reject(new Error('database is locked'));
      await expect(failing).resolves.toBeUndefined();
      expect(writeBehind.pendingHeartbeats).toBe(3);

      await writeBehind.flush();
      expect(catalog.batches[1]).toEqual(
        new Map([
          ['b', t(7)],
          ['c', t(8)],
          ['a', t(1)],
        ]),
      );
      expect(writeBehind.pendingHeartbeats).toBe(0);
      await writeBehind.flush();
      expect(catalog.recordHeartbeats).toHaveBeenCalledTimes(2);
    });

    it('retries after repeated failures and loses nothing', async () => {
      catalog.recordHeartbeats
        .mockRejectedValueOnce(new Error('database is locked'))
        .mockRejectedValueOnce(new Error('connection reset'));
      writeBehind.noteHeartbeat('a', t(1).getTime());
      await writeBehind.flush();
      await writeBehind.flush();
      expect(catalog.batches).toEqual([]);
      expect(writeBehind.pendingHeartbeats).toBe(1);
      await writeBehind.flush();
      expect(catalog.batches).toEqual([new Map([['a', t(1)]])]);
      expect(catalog.recordHeartbeats).toHaveBeenCalledTimes(3);
    });

    it('lets concurrent flush callers share one write', async () => {
      const inFlight = deferred();
      catalog.recordHeartbeats.mockImplementationOnce(async (batch) => {
        catalog.batches.push(new Map(batch));
        await inFlight.promise;
      });
      writeBehind.noteHeartbeat('a', t(1).getTime());
      writeBehind.noteHeartbeat('b', t(2).getTime());
      const first = writeBehind.flushHeartbeats();
      expect(writeBehind.flushHeartbeats()).toBe(first);
      const callers = [writeBehind.flush(), writeBehind.flush(), writeBehind.flush()];
      await settle();
      expect(catalog.recordHeartbeats).toHaveBeenCalledTimes(1);

      // A beat noted during the write waits for the next flush, it is not lost.
      writeBehind.noteHeartbeat('a', t(9).getTime());
      let done = false;
      void Promise.all(callers).then(() => (done = true));
      await settle();
      expect(done).toBe(false);
      inFlight.resolve();
      await Promise.all([first, ...callers]);
      expect(catalog.batches).toEqual([
        new Map([
          ['a', t(1)],
          ['b', t(2)],
        ]),
      ]);
      expect(writeBehind.pendingHeartbeats).toBe(1);

      await writeBehind.flush();
      expect(catalog.batches[1]).toEqual(new Map([['a', t(9)]]));
    });

    it('forgets what is pending for a deleted hive', async () => {
      writeBehind.noteHeartbeat('gone', t(1).getTime());
      writeBehind.noteHeartbeat('kept', t(1).getTime());
      writeBehind.forget('gone');
      await writeBehind.flush();
      expect(catalog.batches).toEqual([new Map([['kept', t(1)]])]);
    });
  });

  describe('status and capability changes', () => {
    it('writes each status change once, promptly, without waiting for a flush', async () => {
      writeBehind.noteStatus('a', 'online', t(1));
      await settle();
      expect(catalog.statuses).toEqual([['a', 'online', t(1)]]);
      await writeBehind.flush();
      await writeBehind.flush();
      expect(catalog.setStatus).toHaveBeenCalledTimes(1);
      expect(catalog.recordHeartbeats).not.toHaveBeenCalled();
    });

    it('writes the changes of many hives noted together in one batch', async () => {
      for (let i = 0; i < 100; i++) writeBehind.noteStatus(`h${i}`, 'online', t(1));
      writeBehind.noteCapabilities('h7', caps(64));
      await writeBehind.flush();
      expect(catalog.recordChanges).toHaveBeenCalledTimes(1);
      expect(catalog.recordChanges.mock.calls[0][0].size).toBe(100);
      expect(catalog.recordChanges.mock.calls[0][0].get('h7')).toEqual({ status: 'online', lastHeartbeatAt: t(1), capabilities: caps(64) });
    });

    it('ends with the latest status when a change arrives during a write', async () => {
      const inFlight = deferred();
      catalog.setStatus.mockImplementationOnce(async (id, status, at) => {
        catalog.statuses.push([id, status, at]);
        await inFlight.promise;
      });
      writeBehind.noteStatus('a', 'online', t(1));
      await settle();
      writeBehind.noteStatus('a', 'offline');
      writeBehind.noteStatus('b', 'online', t(2));
      inFlight.resolve();
      await writeBehind.flush();
      expect(catalog.statuses).toEqual([
        ['a', 'online', t(1)],
        ['a', 'offline', undefined],
        ['b', 'online', t(2)],
      ]);
      await writeBehind.flush();
      expect(catalog.setStatus).toHaveBeenCalledTimes(3);
    });

    it('collapses changes noted before the write starts into the latest one', async () => {
      const inFlight = deferred();
      catalog.setStatus.mockImplementationOnce(async (id, status, at) => {
        catalog.statuses.push([id, status, at]);
        await inFlight.promise;
      });
      writeBehind.noteStatus('busy', 'online', t(1));
      await settle();
      // While "busy" is being written, x changes three times: only the last is written.
      writeBehind.noteStatus('x', 'online', t(2));
      writeBehind.noteStatus('x', 'offline');
      writeBehind.noteStatus('x', 'online', t(4));
      inFlight.resolve();
      await writeBehind.flush();
      expect(catalog.statuses.filter(([id]) => id === 'x')).toEqual([['x', 'online', t(4)]]);
    });

    it('writes capabilities once per change', async () => {
      writeBehind.noteCapabilities('a', caps(64));
      await writeBehind.flush();
      await writeBehind.flush();
      expect(catalog.capabilities).toEqual([['a', caps(64)]]);
      writeBehind.noteCapabilities('a', caps(128));
      await writeBehind.flush();
      expect(catalog.capabilities).toEqual([
        ['a', caps(64)],
        ['a', caps(128)],
      ]);
    });

    it.each(['status', 'capabilities'] as const)('keeps a failed %s write for the next flush, then writes it no more', async (kind) => {
      const write = kind === 'status' ? catalog.setStatus : catalog.setCapabilities;
      const written = kind === 'status' ? catalog.statuses : catalog.capabilities;
      write.mockRejectedValueOnce(new Error('database is locked'));
      if (kind === 'status') writeBehind.noteStatus('a', 'offline');
      else writeBehind.noteCapabilities('a', caps(64));
      await settle();
      expect(write).toHaveBeenCalledTimes(1);
      expect(written).toEqual([]);

      await writeBehind.flush();
      expect(written).toEqual([kind === 'status' ? ['a', 'offline', undefined] : ['a', caps(64)]]);
      await writeBehind.flush();
      expect(write).toHaveBeenCalledTimes(2);
    });

    it('retries a failed change with the next change noted', async () => {
      catalog.setStatus.mockRejectedValueOnce(new Error('database is locked'));
      writeBehind.noteStatus('a', 'offline');
      await settle();
      expect(catalog.statuses).toEqual([]);
      writeBehind.noteCapabilities('b', caps(64));
      await settle();
      expect(catalog.statuses).toEqual([['a', 'offline', undefined]]);
      expect(catalog.capabilities).toEqual([['b', caps(64)]]);
    });

    it('does not retry a failed status that a newer one replaced', async () => {
      const inFlight = deferred();
      catalog.setStatus.mockImplementationOnce(async () => {
        await inFlight.promise;
      });
      writeBehind.noteStatus('a', 'offline');
      await settle();
      writeBehind.noteStatus('a', 'online', t(3));
      inFlight.reject(new Error('database is locked'));
      await writeBehind.flush();
      await writeBehind.flush();
      expect(catalog.statuses).toEqual([['a', 'online', t(3)]]);
    });

    it('writes prompt changes before the heartbeat times of the same flush', async () => {
      const order: string[] = [];
      catalog.setStatus.mockImplementation(async () => void order.push('status'));
      catalog.recordHeartbeats.mockImplementation(async () => void order.push('times'));
      writeBehind.noteHeartbeat('a', t(1).getTime());
      writeBehind.noteStatus('a', 'online', t(1));
      await writeBehind.flush();
      expect(order).toEqual(['status', 'times']);
    });
  });

  describe('lifecycle', () => {
    it('flushes everything pending at shutdown', async () => {
      writeBehind.noteHeartbeat('a', t(1).getTime());
      catalog.setStatus.mockRejectedValueOnce(new Error('database is locked'));
      writeBehind.noteStatus('a', 'online', t(1));
      await settle();
      await writeBehind.beforeApplicationShutdown();
      expect(catalog.batches).toEqual([new Map([['a', t(1)]])]);
      expect(catalog.statuses).toEqual([['a', 'online', t(1)]]);
    });

    it('flushes on its timer every CATALOG_FLUSH_MS', async () => {
      jest.useFakeTimers();
      try {
        writeBehind.onModuleInit();
        writeBehind.noteHeartbeat('a', t(1).getTime());
        jest.advanceTimersByTime(config.catalogFlushMs - 1);
        expect(catalog.recordHeartbeats).not.toHaveBeenCalled();
        jest.advanceTimersByTime(1);
        await Promise.resolve();
        await Promise.resolve();
        expect(catalog.recordHeartbeats).toHaveBeenCalledTimes(1);
      } finally {
        await writeBehind.beforeApplicationShutdown();
        jest.useRealTimers();
      }
    });
  });
});
