/**
 * Placement: which hive and device a new worker goes to. Pure: no Nest, no I/O, no clock.
 *
 * One implementation serves every request. The best hive is found by walking
 * the registry's capacity index from the size the worker needs, stopping at
 * the first hive admitted; a pin evaluates its one hive; when nothing fits,
 * every hive is evaluated once to name its reason. All three use the same
 * two checks: {@link admission} (may the hive be considered) and
 * {@link fitOnHive} (which of its devices, if any).
 */
import { GPU_BACKENDS, GpuBackend, WorkerBackend } from '../domain/fleet';
import { isLive, LivenessRule } from '../domain/liveness';
import type { CapacityIndex, CapacityKind, CapacitySlot } from '../registry/capacity-index';
import type { JsonText } from '../platform/http/problem';
import type { DeviceChoice, HiveView } from '../registry/registry.types';

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
  labels?: Readonly<Record<string, string>>;
}

export interface Placement extends DeviceChoice {
  hiveId: string;
  /** In [0, 1], higher is better: how well the choice suits the strategy (device VRAM, or host RAM for CPU). */
  score: number;
}

export type PlacementResult = { ok: true; placement: Placement } | { ok: false; rejections: Rejections };

/**
 * Why each considered hive was refused, in the order considered. Sent as the
 * JSON object `{ "<hive id>": "<reason>" }`, written out directly: a fleet's
 * worth of reasons costs a fraction of building that object first.
 */
export class Rejections implements JsonText {
  private readonly hiveIds: string[] = [];
  private readonly reasons: RejectionReason[] = [];

  add(hiveId: string, reason: RejectionReason): void {
    this.hiveIds.push(hiveId);
    this.reasons.push(reason);
  }

  get size(): number {
    return this.hiveIds.length;
  }

  /** One hive's reason (a scan: for a pin, or a test). */
  reasonOf(hiveId: string): RejectionReason | undefined {
    const at = this.hiveIds.indexOf(hiveId);
    return at === -1 ? undefined : this.reasons[at];
  }

  toJSON(): Record<string, RejectionReason> {
    const plain: Record<string, RejectionReason> = {};
    this.hiveIds.forEach((hiveId, i) => (plain[hiveId] = this.reasons[i]));
    return plain;
  }

  toJSONText(): string {
    const { hiveIds, reasons } = this;
    // Nothing here needs JSON escaping: hive ids are [a-z0-9._-] (the catalog refuses others) and reasons are constants.
    let text = '{';
    for (let i = 0; i < hiveIds.length; i++) text += `${i === 0 ? '' : ','}"${hiveIds[i]}":"${reasons[i]}"`;
    return `${text}}`;
  }
}


/** What placement reads of the fleet, all at one instant. */
export interface FleetCapacity {
  readonly now: number;
  readonly liveness: LivenessRule;
  readonly index: CapacityIndex;
  hive(hiveId: string): HiveView | undefined;
  hives(): Iterable<HiveView>;
}

/** The device a worker would take on one hive, and what it would leave free there. */
interface Fit {
  /** Position in `hive.resources.devices`; -1 for host RAM (a CPU worker). */
  device: number;
  freeAfterBytes: number;
}

const NO_EXCLUSIONS: ReadonlySet<string> = new Set();

/** Whether the request needs a GPU (else it is placed by host RAM alone). */
export function needsGpu(request: PlacementRequest): boolean {
  return request.vramBytes > 0 && request.backend !== 'cpu';
}

/** The first check before capacity that the hive fails, or null when it may be considered. */
export function admission(hive: HiveView, request: PlacementRequest, rule: LivenessRule, now: number): RejectionReason | null {
  if (!isLive(hive, rule, now)) return 'offline';
  if (hive.cordoned) return 'cordoned';
  if (hive.capabilities === null) return 'no_capabilities';
  const labels = request.labels;
  if (labels !== undefined) {
    for (const key in labels) if (hive.labels[key] !== labels[key]) return 'label_mismatch';
  }
  return null;
}

/**
 * The device of the hive that suits the strategy best and alone has room
 * (never the sum of several: weights are not split across GPUs), or why none.
 * binpack leaves the fewest bytes free, spread the most; ties go to the lower
 * device (backend, then index: the order of `resources.devices`).
 */
export function fitOnHive(hive: HiveView, request: PlacementRequest): Fit | 'insufficient_vram' | 'insufficient_ram' {
  const spread = request.strategy === 'spread';
  const gpu = needsGpu(request);
  if (gpu) {
    const largest =
      request.backend === 'cuda'
        ? hive.largestFreeCudaBytes
        : request.backend === 'metal'
          ? hive.largestFreeMetalBytes
          : Math.max(hive.largestFreeCudaBytes, hive.largestFreeMetalBytes);
    if (largest < request.vramBytes) return 'insufficient_vram';
  }
  if (hive.ramFreeBytes < request.ramBytes) return 'insufficient_ram';
  const { devices, ram } = hive.resources;
  let fit: Fit | null = null;
  if (gpu) {
    for (let i = 0; i < devices.length; i++) {
      const device = devices[i];
      if (device.freeBytes < request.vramBytes || (request.backend !== undefined && device.backend !== request.backend)) continue;
      const freeAfterBytes = device.freeBytes - request.vramBytes;
      if (fit === null || (spread ? freeAfterBytes > fit.freeAfterBytes : freeAfterBytes < fit.freeAfterBytes)) {
        fit = { device: i, freeAfterBytes };
      }
    }
  }
  return fit ?? { device: -1, freeAfterBytes: ram.freeBytes - request.ramBytes };
}

/**
 * Where the worker goes: the hive whose best device leaves the fewest bytes
 * free (binpack) or the most (spread), ties to the lower hive id, then the
 * lower device. Hives in `exclude` are not considered (POST /v1/workers moves
 * on to the next when one refuses). `rejections` names every considered
 * hive's reason when nothing fits; it is empty for a pin to an unknown hive,
 * and left empty with `explain` false (naming every hive's reason walks the
 * whole fleet; the reconciler only needs to know that nothing fits).
 */
export function place(
  request: PlacementRequest,
  fleet: FleetCapacity,
  exclude: ReadonlySet<string> = NO_EXCLUSIONS,
  explain = true,
): PlacementResult {
  if (request.hiveId !== undefined) {
    const hive = fleet.hive(request.hiveId);
    const rejections = new Rejections();
    if (hive === undefined || exclude.has(request.hiveId)) return { ok: false, rejections };
    const reason = admission(hive, request, fleet.liveness, fleet.now);
    const fit = reason ?? fitOnHive(hive, request);
    if (typeof fit === 'string') {
      rejections.add(hive.hiveId, fit);
      return { ok: false, rejections };
    }
    return { ok: true, placement: toPlacement(hive, fit, request) };
  }
  const slot = bestSlot(request, fleet, exclude);
  if (slot !== null) {
    const fit = { device: slot.device, freeAfterBytes: slot.free - (slot.device === -1 ? request.ramBytes : request.vramBytes) };
    return { ok: true, placement: toPlacement(slot.hive, fit, request) };
  }
  return { ok: false, rejections: explain ? rejectionsOf(request, fleet, exclude) : new Rejections() };
}

/** The best slot of the index for the request: see {@link place}. */
function bestSlot(request: PlacementRequest, fleet: FleetCapacity, exclude: ReadonlySet<string>): CapacitySlot | null {
  const { index, liveness, now } = fleet;
  const spread = request.strategy === 'spread';
  const admits = (slot: CapacitySlot): boolean =>
    !exclude.has(slot.hive.hiveId) &&
    admission(slot.hive, request, liveness, now) === null &&
    slot.hive.ramFreeBytes >= request.ramBytes;
  const walk = (kind: CapacityKind, minFree: number): CapacitySlot | null => {
    if (!spread) return index.ascending(kind, minFree, admits);
    // The most free first, then the lowest hive id among those with exactly that much.
    const top = index.descending(kind, minFree, admits);
    return top && index.ascending(kind, top.free, admits);
  };
  if (!needsGpu(request)) return walk('ram', request.ramBytes);
  const kinds: readonly GpuBackend[] = request.backend === undefined ? GPU_BACKENDS : [request.backend as GpuBackend];
  let best: CapacitySlot | null = null;
  for (const kind of kinds) {
    const slot = walk(kind, request.vramBytes);
    if (slot !== null && (best === null || ranksBefore(slot, best, spread))) best = slot;
  }
  return best;
}

function ranksBefore(a: CapacitySlot, b: CapacitySlot, spread: boolean): boolean {
  if (a.free !== b.free) return spread ? a.free > b.free : a.free < b.free;
  if (a.hive.hiveId !== b.hive.hiveId) return a.hive.hiveId < b.hive.hiveId;
  return a.device < b.device;
}

/**
 * Every considered hive's reason. Only asked when the index found no hive,
 * so every hive must fail a check: one that fits means the index is out of
 * step with the registry, a bug to report loudly rather than hide.
 */
function rejectionsOf(request: PlacementRequest, fleet: FleetCapacity, exclude: ReadonlySet<string>): Rejections {
  const rejections = new Rejections();
  const excluding = exclude.size > 0;
  for (const hive of fleet.hives()) {
    if (excluding && exclude.has(hive.hiveId)) continue;
    const reason = admission(hive, request, fleet.liveness, fleet.now);
    const fit = reason ?? fitOnHive(hive, request);
    if (typeof fit !== 'string') throw new Error(`capacity index is out of step: hive ${hive.hiveId} fits but was not found`);
    rejections.add(hive.hiveId, fit);
  }
  return rejections;
}

/** The placement a fit stands for, scored for the strategy. */
function toPlacement(hive: HiveView, fit: Fit, request: PlacementRequest): Placement {
  const device = fit.device === -1 ? undefined : hive.resources.devices[fit.device];
  const totalBytes = device?.totalBytes ?? hive.resources.ram.totalBytes;
  const freeFraction = totalBytes > 0 ? fit.freeAfterBytes / totalBytes : 0;
  return {
    hiveId: hive.hiveId,
    device: device?.device ?? 'cpu',
    backend: device?.backend ?? 'cpu',
    deviceId: device?.deviceId ?? null,
    score: request.strategy === 'spread' ? freeFraction : 1 - freeFraction,
  };
}
