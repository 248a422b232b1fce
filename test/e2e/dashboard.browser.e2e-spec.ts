/**
 * The dashboard at GET /: its files as served, then the page in a real
 * (headless) Chromium against a queen with fake hives whose heartbeats the
 * test sends: token entry, hive list, a worker started from the form, and a
 * hive turning offline on screen. Leaves a screenshot in test/artifacts/.
 *
 * Needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium);
 * without it the browser test fails rather than being skipped.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Browser, chromium, Locator, Page } from 'playwright-core';
import { ManualClock } from '../../src/platform/clock/clock';
import { LivenessSweeper } from '../../src/heartbeat/liveness-sweeper';
import { FakeHiveFleet, startFakeHives } from '../support/fake-hive';
import { TestQueen } from '../support/queen';
import { beat } from '../support/heartbeats';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', 'artifacts');
const TOKEN = 'dashboard-admin-token-0123456789';
const GIB = 2 ** 30;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries an assertion until it passes (the page updates asynchronously); throws its last failure. */
async function eventually(assertion: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await delay(100);
    }
  }
}

const texts = async (locator: Locator) => (await locator.allTextContents()).map((text) => text.trim());

/** The locator's elements have exactly these texts, eventually. */
const expectText = (locator: Locator, ...expected: string[]) =>
  eventually(async () => expect(await texts(locator)).toEqual(expected));

const expectCount = (locator: Locator, count: number) => eventually(async () => expect(await locator.count()).toBe(count));

const expectAttribute = (locator: Locator, name: string, value: string) =>
  eventually(async () => expect(await locator.first().getAttribute(name, { timeout: 500 })).toBe(value));

describe('GET / (dashboard files)', () => {
  let queen: TestQueen;

  beforeAll(async () => {
    queen = await TestQueen.start({ env: { QUEEN_API_TOKEN: TOKEN, HOST: '127.0.0.1' } });
  });

  afterAll(async () => {
    await queen?.destroy();
  });

  it('serves the page without a token, with a strict content security policy', async () => {
    const res = await queen.http().get('/').expect(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.text).toContain('<title>queen');
    // Only this origin's files, pinned to their current version.
    expect(res.text).toMatch(/src="\/dashboard\/app\.js\?v=[0-9a-f]{12}"/);
    expect(res.text).toMatch(/href="\/dashboard\/style\.css\?v=[0-9a-f]{12}"/);
    expect(res.text).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('serves the script, the styles and the icon with their types and caching', async () => {
    const page = await queen.http().get('/').expect(200);
    const version = /app\.js\?v=([0-9a-f]{12})/.exec(page.text)![1];
    const script = await queen.http().get(`/dashboard/app.js?v=${version}`).expect(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const unversioned = await queen.http().get('/dashboard/app.js').expect(200);
    expect(unversioned.headers['cache-control']).toBe('no-cache');
    await queen.http().get('/dashboard/app.js').set('if-none-match', unversioned.headers.etag).expect(304);
    const css = await queen.http().get('/dashboard/style.css').expect(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const icon = await queen.http().get('/dashboard/favicon.svg').expect(200);
    expect(icon.headers['content-type']).toBe('image/svg+xml');
  });

  it('serves nothing else from the dashboard directory', async () => {
    for (const path of ['/dashboard/index.html', '/dashboard/..%2Fdashboard.controller.ts', '/dashboard/nope.js']) {
      const res = await queen.http().get(path).expect(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('is not part of the OpenAPI document', async () => {
    const doc = await queen.http().get('/docs-json').expect(200);
    expect(Object.keys((doc.body as { paths: Record<string, unknown> }).paths)).not.toContain('/');
  });
});

describe('dashboard in Chromium', () => {
  let queen: TestQueen;
  let fleet: FakeHiveFleet;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const tokens = new Map<string, string>();
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];

  async function register(id: string, labels: Record<string, string>): Promise<void> {
    const res = await queen
      .http()
      .post('/v1/hives')
      .set('authorization', `Bearer ${TOKEN}`)
      .send({ ...fleet.registration(id), labels })
      .expect(201);
    tokens.set(id, (res.body as { heartbeat_token: string }).heartbeat_token);
  }

  async function beatAs(id: string): Promise<void> {
    await beat(queen, { id, token: tokens.get(id)! }, { ...fleet.hive(id).heartbeatBody() });
  }

  const card = (hiveId: string) => page.locator(`.hive[data-hive-id="${hiveId}"]`);

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the dashboard browser test needs Chromium at ${CHROMIUM}; install it with: apt-get update && apt-get install -y chromium`,
      );
    }
    fleet = await startFakeHives([
      { id: 'gpu-node-01', gpus: [{ vramGb: 24 }, { vramGb: 24 }] },
      { id: 'gpu-node-02', gpus: [{ name: 'A100', vramGb: 80 }] },
      { id: 'gpu-node-03', gpus: [{ name: 'L40S', vramGb: 48 }] },
    ]);
    queen = await TestQueen.start({
      // Statuses reach the catalog (and the fleet totals) within 100 ms.
      env: { QUEEN_API_TOKEN: TOKEN, HOST: '127.0.0.1', HIVE_REQUEST_TIMEOUT_MS: '2000', CATALOG_FLUSH_MS: '100' },
      clock: new ManualClock(Date.parse('2026-11-27T10:00:00.000Z')),
    });
    origin = `http://127.0.0.1:${(queen.app.getHttpServer().address() as AddressInfo).port}`;
    await register('gpu-node-01', { zone: 'a', tier: 'gold' });
    await register('gpu-node-02', { zone: 'b' });
    await register('gpu-node-03', { zone: 'a' });
    await queen
      .http()
      .patch('/v1/hives/gpu-node-03')
      .set('authorization', `Bearer ${TOKEN}`)
      .send({ cordoned: true })
      .expect(200);
    for (const id of tokens.keys()) await beatAs(id);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, locale: 'en-GB', timezoneId: 'UTC' });
    page = await context.newPage();
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(`${origin}/`) && !url.startsWith('data:')) foreignRequests.push(url);
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await queen?.destroy();
    await fleet?.close();
  });

  it('asks for the API token, then lists the hives with their devices', async () => {
    await page.goto(`${origin}/`);
    const dialog = page.locator('#token-dialog');
    await dialog.waitFor({ state: 'visible' });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-token.png') });
    await page.fill('#token-input', TOKEN);
    await page.click('#token-save');
    await dialog.waitFor({ state: 'hidden' });

    await expectCount(page.locator('.hive'), 3);
    await expectText(card('gpu-node-01').locator('.badge-status'), 'online');
    await expectText(card('gpu-node-03').locator('.badge-cordoned'), 'cordoned');
    await expectText(card('gpu-node-01').locator('.chip'), 'tier=gold', 'zone=a');
    await expectText(card('gpu-node-01').locator('.device[data-device="cuda:1"] .device-total'), '24.0 GiB');
    await expectText(card('gpu-node-02').locator('.device[data-device="cuda:0"] .num-free'), '80.0 GiB free');
    await expectText(page.locator('#stat-hives'), '3 / 3');
    await expectAttribute(page.locator('#live'), 'data-state', 'live');
  });

  it('shows a plan with the rejection reasons per hive', async () => {
    await page.fill('#f-model', 'llama-3-405b');
    await page.fill('#f-vram', '200');
    await page.click('#place-submit');
    const result = page.locator('#place-result');
    await expectAttribute(result, 'class', 'result result-error');
    await expectText(result.locator('tr[data-hive-id="gpu-node-02"] .reason'), 'Not enough free VRAM');
    await expectText(result.locator('tr[data-hive-id="gpu-node-03"] .reason'), 'Cordoned');
  });

  it('starts a worker from the form and shows it under its hive', async () => {
    // The fake hive loads "llama-3-8b" in ~16.4 GiB (estimated from the name); the queen holds what was asked.
    await page.fill('#f-model', 'llama-3-8b');
    await page.fill('#f-vram', '20');
    await page.fill('#f-labels', 'zone=b');
    await page.click('label[for="mode-start"]');
    await expectText(page.locator('#place-submit'), 'Start worker');
    await page.click('#place-submit');

    const started = page.locator('#place-result [data-worker-id]');
    await started.waitFor({ state: 'visible' });
    const workerId = (await started.getAttribute('data-worker-id'))!;
    await expectText(page.locator('#place-result .result-hive'), 'gpu-node-02');
    expect(fleet.spawnCalls('gpu-node-02')).toEqual([expect.objectContaining({ worker_id: workerId })]);

    // Starting: held by a reservation until the hive reports it.
    const row = card('gpu-node-02').locator(`tr[data-worker-id="${workerId}"]`);
    await expectText(row.locator('.state'), 'starting');
    await expectText(card('gpu-node-02').locator('.device[data-device="cuda:0"] .num-reserved'), '20.0 GiB reserved');

    // The hive's next heartbeat reports it (loading); the reservation becomes use.
    await beatAs('gpu-node-02');
    await expectText(row.locator('.state'), 'loading');
    await expectText(row.locator('td').nth(1), 'llama-3-8b');
    await expectText(row.locator('td').nth(3), 'cuda:0');
    await expectText(card('gpu-node-02').locator('.device[data-device="cuda:0"] .num-reserved'), '0.0 GiB reserved');
    await expectCount(page.locator('#event-log .event-worker-added'), 1);
  });

  it('turns a silent hive offline', async () => {
    const clock = queen.clock as ManualClock;
    clock.advance(queen.config.heartbeatTimeoutMs - 1000);
    await beatAs('gpu-node-01');
    await beatAs('gpu-node-02');
    clock.advance(2000); // gpu-node-03 has now been silent longer than the timeout
    queen.get(LivenessSweeper).sweep();

    await expectText(card('gpu-node-03').locator('.badge-status'), 'offline');
    await expectAttribute(card('gpu-node-03'), 'data-status', 'offline');
    await expectText(card('gpu-node-01').locator('.badge-status'), 'online');
    await expectCount(page.locator('#event-log .event-hive-offline'), 1);

    // More workers, so the picture is representative: one loading, one still starting, one idle.
    const startOn01 = (model: string, vramGb: number) =>
      queen
        .http()
        .post('/v1/workers')
        .set('authorization', `Bearer ${TOKEN}`)
        .send({ model_id: model, vram_bytes: vramGb * GIB, hive_id: 'gpu-node-01' })
        .expect(202);
    await startOn01('qwen2.5-7b', 16);
    await beatAs('gpu-node-01');
    await startOn01('mistral-7b', 14);
    fleet.hive('gpu-node-02').finishLoading();
    await beatAs('gpu-node-02');
    const states01 = card('gpu-node-01').locator('tr[data-worker-id] .state');
    await eventually(async () => expect((await texts(states01)).sort()).toEqual(['loading', 'starting']));
    await expectText(card('gpu-node-02').locator('tr[data-worker-id] .state'), 'idle');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  });

  it('creates a deployment from the page, shows it becoming ready, and scales it', async () => {
    await page.fill('#d-name', 'chat');
    await page.fill('#d-model', 'tiny-model');
    await page.fill('#d-replicas', '1');
    await page.fill('#d-vram', '4');
    await page.click('#deployment-submit');
    await expectText(page.locator('#deployment-result strong'), 'Deployment chat created');
    const row = page.locator('.deployment[data-deployment="chat"]');
    await row.waitFor();
    // The reconciler starts its worker; once its hive reports it ready, so does the page.
    let hiveId: string | undefined;
    await eventually(async () => {
      hiveId = fleet.hives.find((hive) => hive.listWorkers().some((worker) => worker.workerId.startsWith('chat-')))?.id;
      expect(hiveId).toBeDefined();
    });
    fleet.hive(hiveId!).finishLoading();
    await beatAs(hiveId!);
    await expectAttribute(row.locator('.ready'), 'data-ready', '1/1');
    await expectText(row.locator('.meta'), 'tiny-model · 4.0 GiB · all ready');

    await row.locator('button[aria-label="Scale chat up"]').click();
    await expectAttribute(row.locator('.ready'), 'data-ready', '1/2');
    await expectCount(page.locator('#event-log .event-deployment-updated'), 1);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-deployments.png'), fullPage: true });
  });

  it('loaded nothing from outside the queen and raised no script errors', () => {
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
