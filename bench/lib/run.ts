import { execFileSync, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';

/**
 * The end of a benchmark run: missed targets are only reported (exit 0); errors
 * that make the measurement invalid exit 1; bad flags exit 2 (the caller's).
 */
export function exitCodeFor(errors: readonly string[]): number {
  if (errors.length === 0) return 0;
  process.stderr.write(`\n!!! BENCHMARK INVALID: ${errors.length} error(s) !!!\n${errors.map((e) => `- ${e}`).join('\n')}\n`);
  return 1;
}

/** Runs a benchmark's `main` and exits with its code, or 1 when it throws. */
export function runBenchmark(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}

/** Whether `taskset` (util-linux) can pin processes to cores here. */
export function canPin(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return cpus().length >= 2;
  } catch {
    return false;
  }
}

/**
 * Runs this benchmark (the load generator) on the last core, so the server,
 * pinned to core 0 by ChildServer, has one to itself: re-executes the script
 * under `taskset` once. Returns false when pinning is not possible here.
 */
export function pinLoadGenerator(): 'pinned' | 'restarted' | 'unpinned' {
  if (process.env.BENCH_PINNED === '1') return 'pinned';
  if (!canPin()) return 'unpinned';
  const core = String(cpus().length - 1);
  const child = spawnSync('taskset', ['-c', core, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: '1' },
  });
  process.exit(child.status ?? 1);
}
