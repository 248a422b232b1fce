import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';

/** Progress goes to stderr so stdout holds only the report. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export function fmtInt(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : Math.round(n).toLocaleString('en-US');
}

export function fmtNum(n: number | null | undefined, digits = 2): string {
  return n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits);
}

export function fmtMiB(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** A plain text table; numbers right-aligned, the first column left-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export type Verdict = 'PASS' | 'FAIL' | 'N/A';

export interface TargetResult {
  name: string;
  target: string;
  measured: string;
  verdict: Verdict;
}

/** Checks `measured` against a bound; null measurements are N/A. */
export function target(name: string, measured: number | null, op: '>=' | '<=' | '<', bound: number, show: (n: number) => string): TargetResult {
  const verdict: Verdict =
    measured === null || !Number.isFinite(measured)
      ? 'N/A'
      : (op === '>=' ? measured >= bound : op === '<=' ? measured <= bound : measured < bound)
        ? 'PASS'
        : 'FAIL';
  return { name, target: `${op} ${show(bound)}`, measured: measured === null ? 'n/a' : show(measured), verdict };
}

export function machineInfo() {
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
  };
}

export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}
