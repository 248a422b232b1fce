/** How queenctl prints: tables that fit the terminal, or JSON or YAML for scripts. */
import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'json', 'yaml'];

export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

const GAP = 2;
/** Narrower than this a column is not shrunk further; the line overflows instead. */
const MIN_WIDTH = 6;

const truncate = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`);

/**
 * Rows under upper-case headers, columns two spaces apart, kubectl style. When the lines would be wider
 * than `width`, the widest column gives up characters first (its cells end in `…`).
 */
export function renderTable<T>(rows: T[], columns: Column<T>[], width: number): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row).replace(/\s+/g, ' ')));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i].length)));
  const total = () => widths.reduce((sum, w) => sum + w, 0) + GAP * (widths.length - 1);
  while (total() > width) {
    const widest = widths.indexOf(Math.max(...widths));
    if (widths[widest] <= MIN_WIDTH) break;
    widths[widest] -= Math.min(total() - width, widths[widest] - MIN_WIDTH);
  }
  const line = (values: string[]) =>
    values
      .map((value, i) => truncate(value, widths[i]).padEnd(i === values.length - 1 ? 0 : widths[i]))
      .join(' '.repeat(GAP))
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...cells.map(line)].join('\n');
}

/** `key: value` lines for one object, keys aligned; nested values as compact JSON. */
export function renderFields(fields: [string, unknown][]): string {
  const width = Math.max(...fields.map(([key]) => key.length));
  return fields
    .map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${typeof value === 'string' ? value : value === null || value === undefined ? '-' : JSON.stringify(value)}`)
    .join('\n');
}

export function render(value: unknown, format: Exclude<OutputFormat, 'table'>): string {
  return format === 'json' ? JSON.stringify(value, null, 2) : stringify(value).trimEnd();
}
