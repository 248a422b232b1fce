import { hiveId, parseSimulatorArgs, UsageError } from './simulator-args';

describe('parseSimulatorArgs', () => {
  it('fills in defaults, taking the admin token from QUEEN_API_TOKEN', () => {
    const parsed = parseSimulatorArgs([], { QUEEN_API_TOKEN: 'from-env' });

    expect(parsed).toEqual({
      help: false,
      config: {
        hives: 10,
        gpusPerHive: 4,
        vramMixGb: [24, 48, 80],
        queenUrl: 'http://127.0.0.1:7833',
        adminToken: 'from-env',
        hiveIdPrefix: 'sim-',
        killRatePerMinute: 0,
        failRatePerMinute: 0,
        slowRate: 0,
        loadDelayMs: 3000,
      },
    });
  });

  it('reads every option', () => {
    const parsed = parseSimulatorArgs(
      [
        '--hives', '200', '--gpus', '8', '--vram-gb', '80', '--queen', 'http://localhost:9000/',
        '--token', 'flag-token', '--prefix', 'bench.', '--kill-rate', '0.05', '--fail-rate', '0.2', '--slow-rate', '0.1',
        '--load-delay-ms', '0',
      ],
      { QUEEN_API_TOKEN: 'from-env' },
    );

    expect(parsed).toEqual({
      help: false,
      config: {
        hives: 200,
        gpusPerHive: 8,
        vramMixGb: [80],
        queenUrl: 'http://localhost:9000',
        adminToken: 'flag-token',
        hiveIdPrefix: 'bench.',
        killRatePerMinute: 0.05,
        failRatePerMinute: 0.2,
        slowRate: 0.1,
        loadDelayMs: 0,
      },
    });
  });

  it('answers help', () => {
    expect(parseSimulatorArgs(['-h'], {})).toEqual({ help: true });
  });

  it('treats an empty QUEEN_API_TOKEN as no token', () => {
    const parsed = parseSimulatorArgs([], { QUEEN_API_TOKEN: '' });

    expect(parsed.help === false && parsed.config.adminToken).toBeUndefined();
  });

  it.each([
    [['--hives', '0'], /--hives must be an integer from 1 to 5000/],
    [['--hives', '2.5'], /--hives/],
    [['--hives', 'many'], /--hives/],
    [['--gpus', '-1'], /--gpus/],
    [['--vram-gb', '24,,80'], /--vram-gb/],
    [['--vram-gb', '0'], /--vram-gb/],
    [['--queen', 'not a url'], /--queen must be a URL/],
    [['--queen', 'https://127.0.0.1:7833'], /--queen must use http:/],
    [['--queen', 'http://10.0.0.5:7833'], /--queen must be a loopback address/],
    [['--prefix', 'Sim-'], /--prefix/],
    [['--prefix', 'x'.repeat(62), '--hives', '10'], /--prefix is too long/],
    [['--kill-rate', '1.5'], /--kill-rate must be a number from 0 to 1/],
    [['--slow-rate', ''], /--slow-rate/],
    [['--load-delay-ms', 'soon'], /--load-delay-ms/],
    [['--bogus'], /unknown option '--bogus'/],
    [['stray'], /too many arguments/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseSimulatorArgs(argv, {})).toThrow(UsageError);
    expect(() => parseSimulatorArgs(argv, {})).toThrow(message);
  });
});

describe('hiveId', () => {
  it('zero-pads to the width of the hive count so ids sort in order', () => {
    expect([hiveId('sim-', 0, 200), hiveId('sim-', 199, 200)]).toEqual(['sim-001', 'sim-200']);
  });
});
