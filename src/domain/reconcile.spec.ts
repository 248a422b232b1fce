import {
  BRAKE_OFF,
  deploymentReason,
  HEALTHY_AFTER_MS,
  NO_BACKOFF,
  nextBrake,
  nextReplacementAt,
  planDeployment,
  RecordedWorker,
  StandingRule,
  standingOf,
  WorkerFacts,
  WorkerStanding,
} from './reconcile';

const NOW = 1_000_000;
const RULE: StandingRule = { rescheduleAfterMs: 60_000, outage: false, brakeReleasedAt: null };
const worker = (id: string, hiveId = 'h1', startedAt = NOW - 1000, replaced = false): RecordedWorker => ({
  workerId: id,
  deployment: 'd',
  hiveId,
  device: 'cuda:0',
  startedAt,
  replaced,
});
const facts = (overrides: Partial<WorkerFacts> = {}): WorkerFacts => ({
  reported: 'idle',
  reserved: false,
  hiveLive: true,
  hiveExists: true,
  hiveLastHeartbeatAt: NOW - 1000,
  ...overrides,
});

describe('standingOf', () => {
  it.each<[string, Partial<WorkerFacts>, Partial<StandingRule>, boolean, WorkerStanding]>([
    ['reported idle on a live hive', {}, {}, false, 'ready'],
    ['reported busy', { reported: 'busy' }, {}, false, 'ready'],
    ['reported loading', { reported: 'loading' }, {}, false, 'starting'],
    ['reserved, not reported yet', { reported: null, reserved: true }, {}, false, 'starting'],
    ['reported failed', { reported: 'failed' }, {}, false, 'failed'],
    ['reported stopped', { reported: 'stopped' }, {}, false, 'failed'],
    ['vanished: neither reported nor reserved', { reported: null }, {}, false, 'failed'],
    ['its hive was removed', { hiveExists: false }, {}, false, 'failed'],
    ['hive away 30 s', { hiveLive: false, hiveLastHeartbeatAt: NOW - 30_000 }, {}, false, 'lost'],
    ['hive away 61 s', { hiveLive: false, hiveLastHeartbeatAt: NOW - 61_000 }, {}, false, 'evicted'],
    ['hive away 61 s during an outage', { hiveLive: false, hiveLastHeartbeatAt: NOW - 61_000 }, { outage: true }, false, 'lost'],
    ['hive away 61 s, brake released 10 s ago', { hiveLive: false, hiveLastHeartbeatAt: NOW - 61_000 }, { brakeReleasedAt: NOW - 10_000 }, false, 'lost'],
    ['replaced, hive still away', { hiveLive: false, reported: 'idle' }, {}, true, 'replaced'],
    ['replaced, hive back and reporting it', { reported: 'idle' }, {}, true, 'surplus'],
    ['replaced, hive removed', { hiveExists: false }, {}, true, 'gone'],
  ])('%s → %s', (_name, given, rule, replaced, expected) => {
    expect(standingOf(worker('w', 'h1', NOW - 1000, replaced), facts(given), { ...RULE, ...rule }, NOW)).toBe(expected);
  });
});

describe('nextReplacementAt', () => {
  it.each<[number, number | null, number]>([
    [0, null, -Infinity],
    [1, NOW, -Infinity],
    [2, NOW, NOW + 1000],
    [3, NOW, NOW + 2000],
    [4, NOW, NOW + 4000],
    [20, NOW, NOW + 300_000],
  ])('after %i failure(s) → %p', (failures, lastReplacementAt, expected) => {
    expect(nextReplacementAt({ failures, lastReplacementAt })).toBe(expected);
  });
});

describe('planDeployment', () => {
  const desire = { name: 'd', replicas: 3, maxPerHive: null };
  const entries = (...list: [RecordedWorker, WorkerStanding][]) => list.map(([w, standing]) => ({ worker: w, standing }));

  it('starts what is missing, excluding hives at max_per_hive', () => {
    const plan = planDeployment({ ...desire, maxPerHive: 1 }, entries([worker('a', 'h1'), 'ready']), NO_BACKOFF, RULE, NOW);
    expect(plan.actions).toEqual([{ kind: 'start', deployment: 'd', count: 2, excludeHives: ['h1'] }]);
    expect(plan.reason).toBe('starting');
  });

  it('does nothing when every replica is ready', () => {
    const plan = planDeployment(desire, entries([worker('a'), 'ready'], [worker('b'), 'ready'], [worker('c'), 'ready']), NO_BACKOFF, RULE, NOW);
    expect(plan).toMatchObject({ actions: [], reason: null, counts: { ready: 3, starting: 0, lost: 0 } });
  });

  it('stops surplus workers not ready first, then the newest', () => {
    const plan = planDeployment(
      { ...desire, replicas: 1 },
      entries([worker('old', 'h1', NOW - 9000), 'ready'], [worker('new', 'h2', NOW - 1000), 'ready'], [worker('loading', 'h3', NOW - 5000), 'starting']),
      NO_BACKOFF,
      RULE,
      NOW,
    );
    expect(plan.actions.map((a) => (a.kind === 'stop' ? a.workerId : a.kind))).toEqual(['loading', 'new']);
  });

  it('forgets a failed worker and replaces it at once the first time, then backs off', () => {
    const first = planDeployment(desire, entries([worker('a'), 'ready'], [worker('b'), 'ready'], [worker('x'), 'failed']), NO_BACKOFF, RULE, NOW);
    expect(first.actions.map((a) => a.kind)).toEqual(['forget', 'start']);
    expect(first.backoff).toEqual({ failures: 1, lastReplacementAt: NOW });
    const second = planDeployment(desire, entries([worker('a'), 'ready'], [worker('b'), 'ready'], [worker('y'), 'failed']), first.backoff, RULE, NOW + 500);
    expect(second.actions.map((a) => a.kind)).toEqual(['forget']);
    expect(second).toMatchObject({ reason: 'backoff', heldBack: 1 });
    const later = planDeployment(desire, entries([worker('a'), 'ready'], [worker('b'), 'ready']), second.backoff, RULE, NOW + 1000);
    expect(later.actions.map((a) => a.kind)).toEqual(['start']);
  });

  it('ends a streak of failures once a worker has been ready a minute', () => {
    const plan = planDeployment(desire, entries([worker('a', 'h1', NOW - HEALTHY_AFTER_MS), 'ready']), { failures: 5, lastReplacementAt: NOW }, RULE, NOW);
    expect(plan.backoff).toEqual(NO_BACKOFF);
    expect(plan.actions.map((a) => a.kind)).toEqual(['start']);
  });

  it('evicts workers of hives away too long and starts replacements; counts lost ones as replicas', () => {
    const plan = planDeployment(desire, entries([worker('a'), 'ready'], [worker('gone', 'h2'), 'evicted'], [worker('away', 'h3'), 'lost']), NO_BACKOFF, RULE, NOW);
    expect(plan.actions).toEqual([
      { kind: 'evict', deployment: 'd', workerId: 'gone', hiveId: 'h2' },
      { kind: 'start', deployment: 'd', count: 1, excludeHives: [] },
    ]);
    expect(plan.counts).toEqual({ ready: 1, starting: 0, lost: 1 });
  });

  it('says held_fleet_outage while the brake holds lost workers', () => {
    const plan = planDeployment(desire, entries([worker('a'), 'lost'], [worker('b'), 'lost'], [worker('c'), 'lost']), NO_BACKOFF, { ...RULE, outage: true }, NOW);
    expect(plan).toMatchObject({ actions: [], reason: 'held_fleet_outage' });
  });
});

describe('nextBrake', () => {
  const RULE_15S = { heartbeatTimeoutMs: 15_000, startedAt: NOW - 3_600_000 };
  /** A hive last heard `ago` ms before NOW: live within 15 s. */
  const hive = (id: string, ago: number) => ({ hiveId: id, lastHeartbeatAt: NOW - ago, statusAtStart: 'online' as const });

  it.each<[string, ReturnType<typeof hive>[], boolean]>([
    ['1 of 4 away', [hive('a', 20_000), hive('b', 1), hive('c', 1), hive('d', 1)], false],
    ['2 of 4 away (not more than half)', [hive('a', 20_000), hive('b', 20_000), hive('c', 1), hive('d', 1)], false],
    ['3 of 4 away within a timeout', [hive('a', 20_000), hive('b', 20_000), hive('c', 20_000), hive('d', 1)], true],
    ['3 of 4 away, but long ago', [hive('a', 90_000), hive('b', 90_000), hive('c', 90_000), hive('d', 1)], false],
    ['a single hive away', [hive('a', 20_000)], false],
  ])('%s → held %p', (_name, hives, held) => {
    expect(nextBrake(BRAKE_OFF, hives, RULE_15S, NOW).held).toBe(held);
  });

  it('holds for the hives heard within the last two timeouts, not those away for longer', () => {
    const fleet = [hive('a', 20_000), hive('b', 20_000), hive('c', 20_000), hive('d', 1), hive('old', 90_000)];
    expect(nextBrake(BRAKE_OFF, fleet, RULE_15S, NOW)).toEqual({ held: true, baseline: ['a', 'b', 'c', 'd'], releasedAt: null });
  });

  it('counts a hive it held for that is no longer tracked as away', () => {
    const held = { held: true, baseline: ['a', 'b', 'c', 'd'], releasedAt: null };
    expect(nextBrake(held, [hive('a', 1), hive('e', 1)], RULE_15S, NOW).held).toBe(true);
    expect(nextBrake(held, [hive('a', 1), hive('b', 1), hive('e', 1)], RULE_15S, NOW).held).toBe(false);
  });

  it('lets go once no more than half of those it held for are away, and says when', () => {
    const held = { held: true, baseline: ['a', 'b', 'c', 'd'], releasedAt: null };
    expect(nextBrake(held, [hive('a', 1), hive('b', 40_000), hive('c', 40_000), hive('d', 40_000)], RULE_15S, NOW).held).toBe(true);
    expect(nextBrake(held, [hive('a', 1), hive('b', 1), hive('c', 40_000), hive('d', 40_000)], RULE_15S, NOW)).toEqual({
      held: false,
      baseline: [],
      releasedAt: NOW,
    });
  });
});

describe('deploymentReason', () => {
  const base = { replicas: 3, ready: 1, lost: 0, unplaced: 0, backingOff: false, outage: false };
  it.each<[string, Partial<typeof base>, string | null]>([
    ['every replica ready', { ready: 3 }, null],
    ['some still starting', {}, 'starting'],
    ['replicas that did not fit', { unplaced: 2 }, 'no_capacity'],
    ['replacements held back', { backingOff: true, unplaced: 2 }, 'backoff'],
    ['lost workers during an outage', { lost: 2, outage: true }, 'held_fleet_outage'],
    ['held back during an outage', { lost: 2, outage: true, backingOff: true }, 'backoff'],
    ['lost workers, no outage', { lost: 2 }, 'starting'],
  ])('%s → %p', (_name, given, reason) => {
    expect(deploymentReason({ ...base, ...given })).toBe(reason);
  });
});
