import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../platform/config/queen-config';
import { capabilitiesFromRbeeDevices, HiveClient, HiveRequestError } from './hive-client';

const GiB = 2 ** 30;

describe('capabilitiesFromRbeeDevices', () => {
  it('converts rbee\'s GET /v1/devices answer (API.md example) to capabilities in bytes', () => {
    expect(
      capabilitiesFromRbeeDevices({ cpu: { cores: 16, ram_gb: 64 }, gpus: [{ id: 'gpu0', name: 'A100', vram_gb: 40 }] }),
    ).toEqual({
      cpuCores: 16,
      ramBytes: 64 * GiB,
      gpus: [{ index: 0, name: 'A100', vramBytes: 40 * GiB, backend: 'cuda' }],
    });
  });

  it('takes gpuN as GPU index N (up to 255, as heartbeats), in index order whatever the report order', () => {
    expect(capabilitiesFromRbeeDevices({ cpu: { cores: 1, ram_gb: 1 }, gpus: [{ id: 'gpu255', vram_gb: 1 }] })?.gpus[0].index).toBe(255);
    const capabilities = capabilitiesFromRbeeDevices({
      cpu: { cores: 64, ram_gb: 512 },
      gpus: [
        { id: 'gpu10', name: 'H100', vram_gb: 80 },
        { id: 'gpu2', name: 'H100', vram_gb: 80 },
        { id: 'gpu0', name: 'H100', vram_gb: 80 },
      ],
    });
    expect(capabilities?.gpus.map((gpu) => gpu.index)).toEqual([0, 2, 10]);
    expect(capabilities?.gpus.every((gpu) => gpu.backend === 'cuda' && gpu.vramBytes === 80 * GiB)).toBe(true);
  });

  it.each<[string, number, number]>([
    ['whole GiB', 24, 24 * GiB],
    ['half a GiB', 23.5, 23.5 * GiB],
    ['zero', 0, 0],
    ['a fraction that is not a whole byte (rounded)', 1 / 3, Math.round(GiB / 3)],
  ])('converts %s of VRAM and RAM to integer bytes', (_what, gb, bytes) => {
    const capabilities = capabilitiesFromRbeeDevices({ cpu: { cores: 1, ram_gb: gb }, gpus: [{ id: 'gpu0', vram_gb: gb }] });
    expect(capabilities?.ramBytes).toBe(bytes);
    expect(capabilities?.gpus[0].vramBytes).toBe(bytes);
    expect(Number.isSafeInteger(capabilities?.gpus[0].vramBytes)).toBe(true);
  });

  it('accepts a CPU-only hive (no gpus, null, or an empty list)', () => {
    expect(capabilitiesFromRbeeDevices({ cpu: { cores: 8, ram_gb: 32 } })).toEqual({ cpuCores: 8, ramBytes: 32 * GiB, gpus: [] });
    expect(capabilitiesFromRbeeDevices({ cpu: { cores: 8, ram_gb: 32 }, gpus: null })?.gpus).toEqual([]);
    expect(capabilitiesFromRbeeDevices({ cpu: { cores: 8, ram_gb: 32 }, gpus: [] })?.gpus).toEqual([]);
  });

  it('names a GPU without a name after its id, and shortens very long names', () => {
    const capabilities = capabilitiesFromRbeeDevices({
      cpu: { cores: 8, ram_gb: 32 },
      gpus: [
        { id: 'gpu0', vram_gb: 8 },
        { id: 'gpu1', name: 'x'.repeat(500), vram_gb: 8 },
      ],
    });
    expect(capabilities?.gpus[0].name).toBe('gpu0');
    expect(capabilities?.gpus[1].name).toHaveLength(128);
  });

  it('ignores fields it does not know (newer hives)', () => {
    expect(
      capabilitiesFromRbeeDevices({
        cpu: { cores: 4, ram_gb: 16, model: 'EPYC' },
        gpus: [{ id: 'gpu0', vram_gb: 16, driver: '550' }],
        disks: [],
      }),
    ).toEqual({ cpuCores: 4, ramBytes: 16 * GiB, gpus: [{ index: 0, name: 'gpu0', vramBytes: 16 * GiB, backend: 'cuda' }] });
  });

  const cpu = { cores: 8, ram_gb: 32 };
  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'gpu0'],
    ['a number', 42],
    ['an array', [{ cpu }]],
    ['no cpu', { gpus: [] }],
    ['cpu null', { cpu: null }],
    ['cpu a string', { cpu: '8 cores' }],
    ['cores missing', { cpu: { ram_gb: 32 } }],
    ['cores fractional', { cpu: { cores: 1.5, ram_gb: 32 } }],
    ['cores negative', { cpu: { cores: -1, ram_gb: 32 } }],
    ['cores a string', { cpu: { cores: '8', ram_gb: 32 } }],
    ['cores past 65536', { cpu: { cores: 65537, ram_gb: 32 } }],
    ['ram_gb missing', { cpu: { cores: 8 } }],
    ['ram_gb a string', { cpu: { cores: 8, ram_gb: '32' } }],
    ['ram_gb negative', { cpu: { cores: 8, ram_gb: -1 } }],
    ['ram_gb infinite (1e400 in JSON)', { cpu: { cores: 8, ram_gb: Infinity } }],
    ['ram_gb past a safe integer of bytes', { cpu: { cores: 8, ram_gb: 2 ** 30 } }],
    ['gpus an object', { cpu, gpus: { gpu0: { vram_gb: 8 } } }],
    ['gpus a string', { cpu, gpus: 'gpu0' }],
    ['gpus a number', { cpu, gpus: 1 }],
    ['a GPU that is null', { cpu, gpus: [null] }],
    ['a GPU that is a string', { cpu, gpus: ['gpu0'] }],
    ['a GPU without id', { cpu, gpus: [{ vram_gb: 8 }] }],
    ['a GPU id that is not gpuN', { cpu, gpus: [{ id: 'cuda0', vram_gb: 8 }] }],
    ['a GPU id with a suffix', { cpu, gpus: [{ id: 'gpu0a', vram_gb: 8 }] }],
    ['a GPU id that is a number', { cpu, gpus: [{ id: 0, vram_gb: 8 }] }],
    ['a GPU index past 255', { cpu, gpus: [{ id: 'gpu256', vram_gb: 8 }] }],
    ['a GPU index of four digits', { cpu, gpus: [{ id: 'gpu0001', vram_gb: 8 }] }],
    ['two GPUs with one index', { cpu, gpus: [{ id: 'gpu0', vram_gb: 8 }, { id: 'gpu0', vram_gb: 8 }] }],
    ['vram_gb missing', { cpu, gpus: [{ id: 'gpu0' }] }],
    ['vram_gb a string', { cpu, gpus: [{ id: 'gpu0', vram_gb: '8' }] }],
    ['vram_gb negative', { cpu, gpus: [{ id: 'gpu0', vram_gb: -8 }] }],
    ['vram_gb NaN', { cpu, gpus: [{ id: 'gpu0', vram_gb: NaN }] }],
    ['vram_gb infinite', { cpu, gpus: [{ id: 'gpu0', vram_gb: Infinity }] }],
  ])('returns null for %s', (_what, body) => {
    expect(capabilitiesFromRbeeDevices(body)).toBeNull();
  });

  it('refuses what JSON.parse makes of 1e400 (Infinity)', () => {
    expect(capabilitiesFromRbeeDevices(JSON.parse('{"cpu":{"cores":8,"ram_gb":8},"gpus":[{"id":"gpu0","vram_gb":1e400}]}'))).toBeNull();
  });
});

describe('HiveClient calls', () => {
  const TIMEOUT_MS = 300;
  let server: Server;
  let client: HiveClient;
  let port: number;

  beforeEach(async () => {
    server = createServer((req, res) => {
      req.resume();
      // Headers at once, then a byte every 20 ms for ever: no single wait is long, the whole answer never ends.
      res.writeHead(200, { 'content-type': 'application/json' });
      const drip = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as AddressInfo).port;
    client = new HiveClient(loadConfig({ HIVE_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), LOG_LEVEL: 'silent' }));
  });

  afterEach(async () => {
    await client.onApplicationShutdown();
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  it('bounds the whole call, answer included, by HIVE_REQUEST_TIMEOUT_MS', async () => {
    const failure = await client.detectDevices({ host: '127.0.0.1', port }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HiveRequestError);
    expect(failure).toMatchObject({ kind: 'timeout', delivered: 'maybe' });
  });
});
