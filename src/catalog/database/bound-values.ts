import type { Driver } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';

/**
 * The bound parameters of a hand-written statement: each value encoded as TypeORM stores it in its
 * column, and marked as the driver expects ($1, $2 … for PostgreSQL, ? for SQLite).
 */
export class BoundValues {
  readonly values: unknown[] = [];
  readonly numbered: boolean;

  constructor(private readonly driver: Driver) {
    this.numbered = driver.options.type === 'postgres';
  }

  /** Binds `value` (encoded for `column` when given) and returns its mark for the statement. */
  mark(value: unknown, column?: ColumnMetadata): string {
    this.values.push(column ? this.driver.preparePersistentValue(value, column) : value);
    return this.numbered ? `$${this.values.length}` : '?';
  }
}
