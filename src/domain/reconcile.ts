/**
 * Reconciliation of deployments: what the queen should do so that each deployment has its replicas
 * running, decided from the desired state, what the queen recorded starting, what the hives report,
 * and the clock. Plain functions, no I/O: the reconciler service gathers the facts and carries out
 * the actions.
 */
import type { WorkerState } from './fleet';
import { isLive, LivenessFacts, LivenessRule } from './liveness';

/** First replacement after a failure is immediate; the next ones wait 1 s, doubling, up to 5 min. */
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_MAX_MS = 5 * 60 * 1000;
/** A worker ready this long ends a streak of failures: the next failure is replaced at once again. */
export const HEALTHY_AFTER_MS = 60 * 1000;

export interface DeploymentDesire {
  name: string;
  replicas: number;
  /** At most this many of its workers on one hive; null for no limit. */
  maxPerHive: number | null;
}

/** A worker the queen started for a deployment, as recorded before the hive was asked. */
export interface RecordedWorker {
  workerId: string;
  deployment: string;
  hiveId: string;
  device: string;
  /** When the queen started it. */
  startedAt: number;
  /** Replaced while its hive was away: stopped if the hive comes back with it. */
  replaced: boolean;
}

/** What is known of a recorded worker now. */
export interface WorkerFacts {
  /** The state its hive reports; null when the hive does not report it. */
  reported: WorkerState | null;
  /** Capacity is still held for it (placed, not yet reported). */
  reserved: boolean;
  /** Its hive is registered and live. */
  hiveLive: boolean;
  /** Its hive is still in the catalog. */
  hiveExists: boolean;
  /** Queen time of its hive's last applied heartbeat; null if none since this queen started. */
  hiveLastHeartbeatAt: number | null;
}

/** How a recorded worker counts. */
export type WorkerStanding =
  /** Reported running by a live hive. */
  | 'ready'
  /** Reserved, or reported starting or loading. */
  | 'starting'
  /** On a hive that is not live, not replaced yet. */
  | 'lost'
  /** Reported failed or stopped, or no longer to be found: to be replaced. */
  | 'failed'
  /** On a hive away longer than RESCHEDULE_AFTER_MS: to be started elsewhere. */
  | 'evicted'
  /** Replaced earlier; its hive is back and reports it: to be stopped. */
  | 'surplus'
  /** Replaced earlier, its hive still away: nothing to do but remember it. */
  | 'replaced'
  /** Replaced earlier, and its hive was removed from the catalog: nothing left to stop. */
  | 'gone';

const RUNNING: ReadonlySet<WorkerState> = new Set(['idle', 'ready', 'busy']);
const STARTING: ReadonlySet<WorkerState> = new Set(['starting', 'loading']);

export interface StandingRule {
  rescheduleAfterMs: number;
  /** The fleet-outage brake holds: nothing is moved off hives that are away. */
  outage: boolean;
  /** When the brake last let go: hives still away get a fresh RESCHEDULE_AFTER_MS from then. */
  brakeReleasedAt: number | null;
}

export function standingOf(worker: RecordedWorker, facts: WorkerFacts, rule: StandingRule, now: number): WorkerStanding {
  if (worker.replaced) return !facts.hiveExists ? 'gone' : facts.hiveLive && facts.reported !== null ? 'surplus' : 'replaced';
  if (!facts.hiveExists) return 'failed';
  if (!facts.hiveLive) {
    const awaySince = Math.max(facts.hiveLastHeartbeatAt ?? worker.startedAt, rule.brakeReleasedAt ?? -Infinity);
    return !rule.outage && now - awaySince > rule.rescheduleAfterMs ? 'evicted' : 'lost';
  }
  if (facts.reported !== null) {
    if (RUNNING.has(facts.reported)) return 'ready';
    if (STARTING.has(facts.reported)) return 'starting';
    if (facts.reported === 'stopping') return 'starting';
    return 'failed';
  }
  return facts.reserved ? 'starting' : 'failed';
}

export interface Backoff {
  /** Failures replaced in a row, since a worker was last healthy. */
  failures: number;
  /** When the last failure was replaced. */
  lastReplacementAt: number | null;
}

export const NO_BACKOFF: Backoff = { failures: 0, lastReplacementAt: null };

/** When the next replacement of a failure may start: at once for the first, then 1 s, 2 s, 4 s … apart, at most 5 min. */
export function nextReplacementAt(backoff: Backoff): number {
  if (backoff.failures <= 1 || backoff.lastReplacementAt === null) return -Infinity;
  return backoff.lastReplacementAt + Math.min(BACKOFF_BASE_MS * 2 ** (backoff.failures - 2), BACKOFF_MAX_MS);
}

export type ReconcileAction =
  | { kind: 'start'; deployment: string; count: number; excludeHives: string[] }
  | { kind: 'stop'; deployment: string; workerId: string; hiveId: string; why: 'scale_down' | 'surplus' }
  | { kind: 'forget'; deployment: string; workerId: string; hiveId: string; why: 'failed' | 'gone' }
  | { kind: 'evict'; deployment: string; workerId: string; hiveId: string };

export type DeploymentReason = null | 'no_capacity' | 'starting' | 'backoff' | 'held_fleet_outage';

export interface DeploymentPlan {
  actions: ReconcileAction[];
  counts: { ready: number; starting: number; lost: number };
  /** Replicas to start now (before placement says whether they fit). */
  toStart: number;
  /** Replicas missing that are not started now because of the backoff. */
  heldBack: number;
  backoff: Backoff;
  reason: DeploymentReason;
}

/**
 * What to do for one deployment. Failed workers are forgotten (and their replacements started, subject
 * to the backoff); workers of hives away too long are evicted (remembered, to be stopped if they come
 * back) and replaced; surplus workers are stopped, those not yet ready first, then the newest.
 */
export function planDeployment(
  desire: DeploymentDesire,
  workers: { worker: RecordedWorker; standing: WorkerStanding }[],
  backoff: Backoff,
  rule: StandingRule,
  now: number,
): DeploymentPlan {
  const actions: ReconcileAction[] = [];
  let failures = 0;
  const active: { worker: RecordedWorker; standing: WorkerStanding }[] = [];
  const counts = { ready: 0, starting: 0, lost: 0 };
  let readySinceLongEnough = false;
  for (const entry of workers) {
    const { worker, standing } = entry;
    if (standing === 'failed') {
      failures++;
      actions.push({ kind: 'forget', deployment: desire.name, workerId: worker.workerId, hiveId: worker.hiveId, why: 'failed' });
    } else if (standing === 'gone') {
      actions.push({ kind: 'forget', deployment: desire.name, workerId: worker.workerId, hiveId: worker.hiveId, why: 'gone' });
    } else if (standing === 'evicted') {
      actions.push({ kind: 'evict', deployment: desire.name, workerId: worker.workerId, hiveId: worker.hiveId });
    } else if (standing === 'surplus') {
      actions.push({ kind: 'stop', deployment: desire.name, workerId: worker.workerId, hiveId: worker.hiveId, why: 'surplus' });
    } else if (standing === 'ready' || standing === 'starting' || standing === 'lost') {
      counts[standing]++;
      active.push(entry);
      if (standing === 'ready' && now - worker.startedAt >= HEALTHY_AFTER_MS) readySinceLongEnough = true;
    }
  }

  let next: Backoff = readySinceLongEnough && failures === 0 ? NO_BACKOFF : backoff;
  // Surplus: not-ready first, then the newest.
  const surplus = active.length - desire.replicas;
  if (surplus > 0) {
    const rank = (standing: WorkerStanding) => (standing === 'ready' ? 1 : 0);
    const order = [...active].sort((a, b) => rank(a.standing) - rank(b.standing) || b.worker.startedAt - a.worker.startedAt);
    for (const { worker } of order.slice(0, surplus)) {
      actions.push({ kind: 'stop', deployment: desire.name, workerId: worker.workerId, hiveId: worker.hiveId, why: 'scale_down' });
    }
  }
  let missing = Math.max(0, desire.replicas - active.length);
  let heldBack = 0;
  if (failures > 0) {
    // Replacing failures: the first at once, the rest after a growing pause.
    next = { failures: next.failures + failures, lastReplacementAt: next.lastReplacementAt };
    if (now < nextReplacementAt(next)) {
      heldBack = missing;
      missing = 0;
    } else {
      next = { ...next, lastReplacementAt: now };
    }
  } else if (missing > 0 && next.failures > 1 && now < nextReplacementAt(next)) {
    heldBack = missing;
    missing = 0;
  } else if (missing > 0 && next.failures > 0) {
    next = { ...next, lastReplacementAt: now };
  }
  if (missing > 0) {
    const perHive = new Map<string, number>();
    for (const { worker } of active) perHive.set(worker.hiveId, (perHive.get(worker.hiveId) ?? 0) + 1);
    const excludeHives = desire.maxPerHive === null ? [] : [...perHive].filter(([, n]) => n >= desire.maxPerHive!).map(([hive]) => hive);
    actions.push({ kind: 'start', deployment: desire.name, count: missing, excludeHives });
  }
  const reason = deploymentReason({ replicas: desire.replicas, ready: counts.ready, lost: counts.lost, unplaced: 0, backingOff: heldBack > 0, outage: rule.outage });
  return { actions, counts, toStart: missing, heldBack, backoff: next, reason };
}

/** Why a deployment does not have every replica ready, or null when it does: the planner and the status say it alike. */
export function deploymentReason(facts: {
  replicas: number;
  ready: number;
  lost: number;
  /** Replicas not placed at the last attempt (no room, or held back). */
  unplaced: number;
  /** Replacements are held back by the backoff. */
  backingOff: boolean;
  outage: boolean;
}): DeploymentReason {
  if (facts.ready >= facts.replicas) return null;
  if (facts.backingOff) return 'backoff';
  if (facts.unplaced > 0) return 'no_capacity';
  if (facts.outage && facts.lost > 0) return 'held_fleet_outage';
  return 'starting';
}

/** The fleet-outage brake: held while more than half of the hives that were live when it engaged are away. */
export interface OutageBrake {
  held: boolean;
  /** Hives live when the brake engaged. */
  baseline: string[];
  releasedAt: number | null;
}

export const BRAKE_OFF: OutageBrake = { held: false, baseline: [], releasedAt: null };

/** What the brake reads of a hive: who it is and when it was last heard, judged by the one liveness rule. */
export interface HiveHeard extends LivenessFacts {
  readonly hiveId: string;
}

/**
 * Engages when more than half of the hives that were live one heartbeat timeout ago went away within
 * it (the queen's own network is the likelier cause than half the fleet failing at once), and lets go
 * once no more than half of those are away. It runs every pass over the whole fleet, so it counts in
 * one walk and allocates only when the brake engages or holds; `hives` may be walked twice.
 */
export function nextBrake(brake: OutageBrake, hives: Iterable<HiveHeard>, rule: LivenessRule, now: number): OutageBrake {
  if (brake.held) {
    const baseline = new Set(brake.baseline);
    let back = 0;
    for (const hive of hives) if (baseline.has(hive.hiveId) && isLive(hive, rule, now)) back++;
    const away = baseline.size - back;
    return away * 2 > baseline.size ? brake : { held: false, baseline: [], releasedAt: now };
  }
  // Live within the last two timeouts: live now, or went away within the last one.
  const recentlyHeard = (hive: HiveHeard) => hive.lastHeartbeatAt !== null && now - hive.lastHeartbeatAt <= 2 * rule.heartbeatTimeoutMs;
  let recent = 0;
  let wentAway = 0;
  for (const hive of hives) {
    if (!recentlyHeard(hive)) continue;
    recent++;
    if (!isLive(hive, rule, now)) wentAway++;
  }
  if (recent < 2 || wentAway * 2 <= recent) return brake;
  const baseline: string[] = [];
  for (const hive of hives) if (recentlyHeard(hive)) baseline.push(hive.hiveId);
  return { held: true, baseline, releasedAt: brake.releasedAt };
}
