import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Creates the table of first answers to requests that carried an Idempotency-Key. */
export class CreateIdempotencyKeys1764806400000 implements MigrationInterface {
  name = 'CreateIdempotencyKeys1764806400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const driver = queryRunner.connection.driver;
    const timestamp = driver.options.type === 'postgres' ? 'timestamptz' : driver.normalizeType({ type: Date });
    await queryRunner.createTable(
      new Table({
        name: 'idempotency_keys',
        columns: [
          { name: 'scope', type: 'varchar', length: '160', isPrimary: true },
          { name: 'key', type: 'varchar', length: '255', isPrimary: true },
          { name: 'request_hash', type: 'varchar', length: '64' },
          { name: 'status', type: 'integer' },
          { name: 'content_type', type: 'varchar', length: '64' },
          { name: 'body', type: 'text' },
          { name: 'location', type: 'varchar', length: '512', isNullable: true },
          { name: 'created_at', type: timestamp },
        ],
      }),
    );
    await queryRunner.createIndex('idempotency_keys', new TableIndex({ name: 'idx_idempotency_keys_created_at', columnNames: ['created_at'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('idempotency_keys');
  }
}
