import { seededRandom } from '../../bench/lib/random';
import type { HiveCatalog } from '../catalog/hive-catalog.service';
import { ManualClock } from '../clock/clock';
import { loadConfig } from '../config/queen-config';
import { SqlStatementCounter } from '../database/sql-statement-counter';
import { FleetEvents } from '../events/fleet-events';
import { QueenMetrics } from '../metrics/queen-metrics';
import { HiveRegistry } from '../registry/hive-registry';
import type { GpuBackend, HiveCapabilities, WorkerReport } from '../registry/registry.types';
import { computeResources } from '../registry/usage';
import type { HiveClient } from './hive-client';
import { PlacementCandidate, PlacementRequest, rankPlacements } from './placement';
import { SchedulerService } from './scheduler.service';

const GiB = 2 ** 30;
const TIMEOUT_MS = 15_000;

interface Row {
  id: string;
  cordoned: boolean;
  labels: Record<string, string>;
  capabilities: HiveCapabilities | null;
}

/**
 * A random fleet: CUDA and Metal hives with 1 to 10 GPUs (more than the table holds
 * inline), workers, reservations (some expired), hives never heard from, silent past
 * the timeout, cordoned, without capabilities, and removed again (slots move).
 */
function randomWorld(seed: number) {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const clock = new ManualClock(Date.parse('2026-11-27T10:00:00.000Z'));
  const start = clock.now();
  const registry = new HiveRegistry();
  const rows = new Map<string, Row>();
  for (let h = 0; h < 300; h++) {
    const id = `h-${String(h).padStart(3, '0')}`;
    const backend: GpuBackend = random() < 0.8 ? 'cuda' : 'metal';
    const size = pick([16, 24, 48, 80]) * GiB;
    const gpus = Array.from({ length: 1 + Math.floor(random() * 10) }, (_, index) => ({ index, name: 'gpu', vramBytes: size, backend }));
    const capabilities: HiveCapabilities | null = random() < 0.05 ? null : { cpuCores: 16, ramBytes: pick([32, 64, 128]) * GiB, gpus };
    rows.set(id, { id, cordoned: random() < 0.1, labels: { zone: pick(['a', 'b', 'c']), ...(random() < 0.02 ? { gpu: 'rare' } : {}) }, capabilities });
    if (random() < 0.05) continue; // never heard from
    const workers: WorkerReport[] = [];
    for (const gpu of gpus) {
      for (let k = Math.floor(random() * 3); k > 0; k--) {
        workers.push({
          workerId: `w-${h}-${gpu.index}-${k}`,
          modelId: 'm',
          state: pick(['idle', 'busy', 'stopped'] as const),
          backend,
          deviceId: gpu.index,
          device: `${backend}:${gpu.index}`,
          vramBytes: pick([2, 4, 8, 16]) * GiB,
          ramBytes: pick([1, 2, 4]) * GiB,
          url: null,
          healthStatus: null,
          lastHeartbeat: null,
          cpuPercent: null,
          gpuPercent: null,
        });
      }
    }
    registry.setCapabilities(id, capabilities);
    const silentFor = random() < 0.05 ? TIMEOUT_MS + 1000 : 0;
    registry.applyHeartbeat(id, { stamp: { sequence: 1, timestamp: start }, workers, receivedAt: start - silentFor }, TIMEOUT_MS);
    if (capabilities && random() < 0.2) {
      const gpu = pick(gpus);
      registry.reserve({
        id: `r-${h}`,
        hiveId: id,
        workerId: `w-new-${h}`,
        modelId: 'm',
        backend,
        deviceId: gpu.index,
        device: `${backend}:${gpu.index}`,
        vramBytes: pick([4, 8, 16]) * GiB,
        ramBytes: 2 * GiB,
        createdAt: start,
        expiresAt: start + pick([500, 60_000]),
      });
    }
  }
  for (const id of [...rows.keys()].filter(() => random() < 0.03)) {
    registry.removeHive(id);
    rows.delete(id);
  }
  clock.advance(1000); // some reservations have expired by now
  const catalog = {
    placementView: () => rows.values(),
    findById: (id: string) => rows.get(id),
    getById: (id: string) => rows.get(id),
  } as unknown as HiveCatalog;
  const config = loadConfig({ HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS) });
  const scheduler = new SchedulerService(
    catalog,
    registry,
    {} as HiveClient,
    new FleetEvents(),
    new QueenMetrics(new SqlStatementCounter()),
    clock,
    config,
  );
  return { random, pick, clock, registry, rows, scheduler };
}

/** The exact scan over every hive, as written in placement.ts. */
function exactCandidates(world: ReturnType<typeof randomWorld>): PlacementCandidate[] {
  const now = world.clock.now();
  return [...world.rows.values()].map((row) => {
    const live = world.registry.liveView(row.id, now);
    return {
      hiveId: row.id,
      online: live !== undefined && live.online && live.lastHeartbeatAt !== null && now - live.lastHeartbeatAt <= TIMEOUT_MS,
      cordoned: row.cordoned,
      labels: row.labels,
      hasCapabilities: (live?.capabilities ?? row.capabilities) !== null,
      resources: live?.resources ?? computeResources(null, [], []),
    };
  });
}

describe('placement through the registry table', () => {
  it.each([1, 2, 3, 4, 5])('chooses exactly what the exact scan chooses (fleet seed %i)', (seed) => {
    const world = randomWorld(seed);
    for (let i = 0; i < 200; i++) {
      const cpu = world.random() < 0.15;
      const request: PlacementRequest = {
        modelId: 'm',
        vramBytes: cpu ? 0 : world.pick([1, 4, 8, 16, 24, 40, 64, 90]) * GiB,
        ramBytes: world.pick([0, 2, 16, 100]) * GiB,
        backend: cpu ? 'cpu' : world.pick([undefined, 'cuda', 'metal'] as const),
        strategy: world.pick(['binpack', 'spread'] as const),
        labels: world.pick<Record<string, string> | undefined>([undefined, undefined, { zone: 'a' }, { gpu: 'rare' }]),
      };
      const exact = rankPlacements(request, exactCandidates(world), 1);
      let chosen: unknown;
      try {
        chosen = world.scheduler.plan(request);
      } catch (error) {
        chosen = (error as { getStatus(): number }).getStatus();
      }
      expect({ request, chosen }).toEqual({ request, chosen: exact.ok ? exact.placements[0] : 409 });
    }
  });
});
