/**
 * Overload: when the event loop runs late, admin requests are refused at once
 * (429, Retry-After) and heartbeats are still answered, told to come back
 * later, by a spread-out interval. The load is real: the test keeps the
 * process's event loop busy, as a flood of requests would.
 */
import { LoadMonitor } from '../../src/platform/http/load-shedding';
import { beat, registerHive, TestHive } from '../support/heartbeats';
import { expectProblem } from '../support/problem';
import { TestQueen } from '../support/queen';

/**
 * Keeps the event loop late at every turn for about `ms`, as a saturated
 * queen is: turns of 500 ms of work, with only the other callbacks between
 * them. The load monitor's reading runs in between, and sees it.
 */
async function saturate(ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const until = performance.now() + 500;
    while (performance.now() < until) {
      // busy: nothing else runs meanwhile
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('overload', () => {
  let queen: TestQueen;
  let hive: TestHive;

  beforeAll(async () => {
    // A bound well above what a busy test machine's pauses reach, and well below the saturation made here.
    queen = await TestQueen.start({ env: { OVERLOAD_LAG_MS: '250', HEARTBEAT_INTERVAL_MS: '5000', HEARTBEAT_TIMEOUT_MS: '15000' } });
    hive = await registerHive(queen, 'busy-hive');
  });
  afterAll(async () => {
    await queen?.destroy();
  });

  it('keeps up normally: admin requests served, heartbeats at the configured interval', async () => {
    expect(queen.get(LoadMonitor).overloaded).toBe(false);
    await queen.http().get('/v1/hives').expect(200);
    expect((await beat(queen, hive)).body.next_heartbeat_ms).toBe(5000);
  });

  it('takes one long pause (a GC, start-up work) for what it is, not for overload', async () => {
    const until = performance.now() + 600;
    while (performance.now() < until) {
      // one pause
    }
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(queen.get(LoadMonitor).overloaded).toBe(false);
    await queen.http().get('/v1/hives').expect(200);
  });

  it('sheds admin requests with 429 and Retry-After, answers heartbeats and spaces them out, while the loop runs late', async () => {
    await saturate(1500);
    expect(queen.get(LoadMonitor).overloaded).toBe(true);

    const shed = await queen.http().post('/v1/hives').send({ id: 'refused-while-busy', host: '127.0.0.1', port: 1 });
    expectProblem(shed, 429);
    expect(shed.headers['retry-after']).toBe('1');
    const intervals: number[] = [];
    for (let i = 0; i < 5; i++) intervals.push((await beat(queen, hive)).body.next_heartbeat_ms);
    for (const interval of intervals) {
      expect(interval).toBeGreaterThan(5000 * 0.9);
      expect(interval).toBeLessThanOrEqual(15000 / 2 * 1.1);
    }
    // Spread, not in step.
    expect(new Set(intervals).size).toBeGreaterThan(1);
    await queen.http().get('/health/live').expect(200);
    expect((await queen.http().get('/metrics').expect(200)).text).toMatch(/^queen_requests_shed_total [1-9]/m);
    // Nothing of the refused request was stored.
    expect(await queen.dataSource.query("SELECT id FROM hives WHERE id = 'refused-while-busy'")).toEqual([]);
  });
});
