/**
 * Placement: which hive and device a new worker should go to. Pure: no Nest, no I/O, no clock.
 *
 * Runs over the whole fleet (10,000 hives × 8 GPUs) on every request, so it makes one pass over
 * the candidates, keeps only the best few, allocates only for options entering that top few, and
 * reads free VRAM from the packed `deviceFreeBytes` rather than from one object per device.
 */
import { AvailableResources, GpuBackend, WorkerBackend } from '../registry/registry.types';

export type PlacementStrategy = 'binpack' | 'spread';

/** In the order they are checked: a hive's reason is the first check it fails. */
export const REJECTION_REASONS = [
  'offline',
  'cordoned',
  'no_capabilities',
  'label_mismatch',
  'insufficient_vram',
  'insufficient_ram',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface PlacementRequest {
  modelId: string;
  /** 0 for a CPU worker. */
  vramBytes: number;
  ramBytes: number;
  /** cuda or metal: that GPU backend only; absent: any GPU; cpu: RAM only. */
  backend?: WorkerBackend;
  /** Defaults to binpack. */
  strategy?: PlacementStrategy;
  /** Pin: only this hive is considered. */
  hiveId?: string;
  /** Every label here must be set to the same value on the hive. */
  labels?: Record<string, string>;
}

/**
 * One hive as the scheduler sees it. Placement reads a candidate only while iterating and keeps
 * nothing of it, so the scheduler may yield one reused object. `resources` must be as
 * `computeResources` builds them: devices sorted, `deviceFreeBytes` in step with them.
 */
export interface PlacementCandidate {
  hiveId: string;
  online: boolean;
  cordoned: boolean;
  labels: Record<string, string>;
  hasCapabilities: boolean;
  resources: AvailableResources;
}

export interface Placement {
  hiveId: string;
  /** `cuda:1`, `metal:0`, or `cpu`. */
  device: string;
  backend: WorkerBackend;
  /** GPU index; null for a CPU worker. */
  deviceId: number | null;
  /** In [0, 1], higher is better: how well the choice suits the strategy (device VRAM, or host RAM for CPU). */
  score: number;
}

/** `rejections` holds every considered hive when nothing fits (empty when none was considered, e.g. an unknown pin). */
export type PlacementResult =
  | { ok: true; placement: Placement }
  | { ok: false; rejections: Record<string, RejectionReason> };

export type RankedPlacements =
  | { ok: true; placements: Placement[] }
  | { ok: false; rejections: Record<string, RejectionReason> };

/** The best placement for the request. */
export function choosePlacement(request: PlacementRequest, candidates: Iterable<PlacementCandidate>): PlacementResult {
  const ranked = rankPlacements(request, candidates, 1);
  return ranked.ok ? { ok: true, placement: ranked.placements[0] } : ranked;
}

/** What a considered (hive, device) would leave free, with enough to report it. */
export interface PlacementOption {
  hiveId: string;
  device: string;
  backend: WorkerBackend;
  deviceId: number | null;
  freeAfterBytes: number;
  totalBytes: number;
}

/**
 * The best `limit` hives for the request, best first, one placement (its best device) per hive:
 * `POST /v1/workers` moves to the next when a hive refuses the spawn.
 *
 * Ranking is by bytes left free on the chosen device (host RAM for a CPU worker) after placing:
 * fewest first for binpack, most first for spread; ties go to the lower hive id, then within a
 * hive to the lower device (backend, then index). The score reports the same fraction of the
 * device's total, so on devices of different sizes the order follows bytes, not the score.
 */
export function rankPlacements(
  request: PlacementRequest,
  candidates: Iterable<PlacementCandidate>,
  limit: number,
): RankedPlacements {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const spread = request.strategy === 'spread';
  const needsGpu = request.vramBytes > 0 && request.backend !== 'cpu';
  const gpuBackend: GpuBackend | undefined = request.backend === 'cpu' ? undefined : request.backend;
  const requiredLabels = Object.entries(request.labels ?? {});

  /** Whether leaving `freeAfterBytes` on `hiveId` ranks before option `other`. */
  const ranksBefore = (freeAfterBytes: number, hiveId: string, other: PlacementOption): boolean => {
    if (freeAfterBytes !== other.freeAfterBytes) {
      return spread ? freeAfterBytes > other.freeAfterBytes : freeAfterBytes < other.freeAfterBytes;
    }
    return hiveId < other.hiveId;
  };

  const ranked: PlacementOption[] = [];
  const rejectedHiveIds: string[] = [];
  const rejectionReasons: RejectionReason[] = [];
  const reject = (hiveId: string, reason: RejectionReason): void => {
    rejectedHiveIds.push(hiveId);
    rejectionReasons.push(reason);
  };

  for (const candidate of candidates) {
    if (request.hiveId !== undefined && candidate.hiveId !== request.hiveId) continue;
    const admission = admissionRejection(candidate, requiredLabels);
    if (admission !== null) {
      reject(candidate.hiveId, admission);
      continue;
    }

    const { resources } = candidate;
    let deviceIndex = NO_DEVICE;
    if (needsGpu) {
      deviceIndex = bestFittingDevice(resources, request.vramBytes, gpuBackend, spread);
      if (deviceIndex === NO_DEVICE) {
        reject(candidate.hiveId, 'insufficient_vram');
        continue;
      }
    }
    const ramFreeBytes = resources.ram.freeBytes;
    if (ramFreeBytes < request.ramBytes) {
      reject(candidate.hiveId, 'insufficient_ram');
      continue;
    }

    const freeAfterBytes =
      deviceIndex === NO_DEVICE
        ? ramFreeBytes - request.ramBytes
        : resources.deviceFreeBytes[deviceIndex] - request.vramBytes;
    if (ranked.length === limit && !ranksBefore(freeAfterBytes, candidate.hiveId, ranked[limit - 1])) continue;

    let position = ranked.length;
    while (position > 0 && ranksBefore(freeAfterBytes, candidate.hiveId, ranked[position - 1])) position--;
    const device = deviceIndex === NO_DEVICE ? undefined : resources.devices[deviceIndex];
    ranked.splice(position, 0, {
      hiveId: candidate.hiveId,
      device: device?.device ?? 'cpu',
      backend: device?.backend ?? 'cpu',
      deviceId: device?.deviceId ?? null,
      freeAfterBytes,
      totalBytes: device?.totalBytes ?? resources.ram.totalBytes,
    });
    if (ranked.length > limit) ranked.pop();
  }

  if (ranked.length === 0) {
    const rejections: Record<string, RejectionReason> = {};
    rejectedHiveIds.forEach((hiveId, i) => (rejections[hiveId] = rejectionReasons[i]));
    return { ok: false, rejections };
  }
  return { ok: true, placements: ranked.map((option) => toPlacement(option, spread)) };
}

/** The first failing check before capacity is looked at, or null when the hive may be considered. */
function admissionRejection(
  candidate: PlacementCandidate,
  requiredLabels: ReadonlyArray<[string, string]>,
): RejectionReason | null {
  if (!candidate.online) return 'offline';
  if (candidate.cordoned) return 'cordoned';
  if (!candidate.hasCapabilities) return 'no_capabilities';
  for (const [key, value] of requiredLabels) {
    if (candidate.labels[key] !== value) return 'label_mismatch';
  }
  return null;
}

const NO_DEVICE = -1;

/**
 * Index of the device of a matching backend that alone has `vramBytes` free and suits the
 * strategy best, or NO_DEVICE. One device, never the sum: weights are not split across GPUs.
 */
function bestFittingDevice(
  resources: AvailableResources,
  vramBytes: number,
  backend: GpuBackend | undefined,
  spread: boolean,
): number {
  const freeBytes = resources.deviceFreeBytes;
  let best = NO_DEVICE;
  for (let i = 0; i < freeBytes.length; i++) {
    if (freeBytes[i] < vramBytes) continue;
    // Devices are sorted, so keeping the earlier one on a tie keeps the lower device.
    if (best !== NO_DEVICE && (spread ? freeBytes[i] <= freeBytes[best] : freeBytes[i] >= freeBytes[best])) continue;
    // Last, so a device object is read only for a device that would win.
    if (backend !== undefined && resources.devices[i].backend !== backend) continue;
    best = i;
  }
  return best;
}

/** The placement an option stands for, scored for the strategy. */
export function toPlacement(option: PlacementOption, spread: boolean): Placement {
  const freeFraction = option.totalBytes > 0 ? option.freeAfterBytes / option.totalBytes : 0;
  return {
    hiveId: option.hiveId,
    device: option.device,
    backend: option.backend,
    deviceId: option.deviceId,
    score: spread ? freeFraction : 1 - freeFraction,
  };
}
