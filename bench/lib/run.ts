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
