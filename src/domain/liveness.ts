/**
 * The one definition of liveness. Every route, the placement index, the
 * sweeper and the metrics decide "is this hive online" here, from the same
 * two facts, so no two of them can disagree.
 */
import type { HiveStatus } from './fleet';

/** What the rule needs of the queen: how long silence is allowed, and since when this queen has listened. */
export interface LivenessRule {
  heartbeatTimeoutMs: number;
  /** When this queen started listening; until one timeout after it, no hive is called offline for its silence. */
  startedAt: number;
}

/** What the rule needs of a hive. */
export interface LivenessFacts {
  /** Queen receive time of the last applied heartbeat since this queen started; null when none. */
  readonly lastHeartbeatAt: number | null;
  /** The status the catalog held when this queen started (what an earlier queen last said). */
  readonly statusAtStart: HiveStatus;
}

/**
 * A hive heard from since the start is online while its last applied
 * heartbeat is at most one timeout old (on the queen's clock, never the
 * hive's), offline after. A hive not heard from since the start keeps its
 * stored status, except that one stored as online is `unknown` for the first
 * timeout (the queen's restart is not the hive's fault) and `offline` after.
 */
export function liveStatus(hive: LivenessFacts, rule: LivenessRule, now: number): HiveStatus {
  if (hive.lastHeartbeatAt !== null) return now - hive.lastHeartbeatAt <= rule.heartbeatTimeoutMs ? 'online' : 'offline';
  if (hive.statusAtStart !== 'online') return hive.statusAtStart;
  return now - rule.startedAt <= rule.heartbeatTimeoutMs ? 'unknown' : 'offline';
}

export function isLive(hive: LivenessFacts, rule: LivenessRule, now: number): boolean {
  return hive.lastHeartbeatAt !== null && now - hive.lastHeartbeatAt <= rule.heartbeatTimeoutMs;
}
