/**
 * Preloaded (`node -r`) into a benchmark child when the bench runs with
 * `--profile`, to profile just the measured window:
 *   first SIGWINCH  → start the V8 CPU profiler (SIGWINCH: ignored by default
 *                     and not among the signals Nest's shutdown hooks catch);
 *   second SIGWINCH → stop it and write `<name>-<pid>.cpuprofile`.
 * A profile still running at SIGTERM or exit is written then. (Node's own
 * `--cpu-prof` covers the whole process life and writes only on a normal
 * exit, while Nest's shutdown hooks end the process by re-raising SIGTERM.)
 *
 * BENCH_CPU_PROFILE_DIR / BENCH_CPU_PROFILE_NAME are set by the bench
 * launcher only; the server itself never reads them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 250 });
  let running = false;
  let count = 0;
  const stopAndWrite = () => {
    if (!running) return;
    running = false;
    // Same-thread inspector sessions answer synchronously, so this completes before the process dies.
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      mkdirSync(dir, { recursive: true });
      const suffix = count++ === 0 ? '' : `-${count}`;
      const file = join(dir, `${process.env.BENCH_CPU_PROFILE_NAME ?? 'server'}-${process.pid}${suffix}.cpuprofile`);
      writeFileSync(file, JSON.stringify(result.profile));
      process.stderr.write(`cpu profile written to ${file}\n`);
    });
  };
  process.on('SIGWINCH', () => {
    if (running) return stopAndWrite();
    session.post('Profiler.start');
    running = true;
  });
  process.prependListener('SIGTERM', stopAndWrite);
  process.once('exit', stopAndWrite);
}
