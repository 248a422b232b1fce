import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Creates the hives table. Written with the schema builder so one migration serves SQLite and PostgreSQL. */
export class CreateHives1764201600000 implements MigrationInterface {
  name = 'CreateHives1764201600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // PostgreSQL keeps the instant (timestamptz), whatever the server's or the queen's time zone;
    // SQLite has no such type and TypeORM stores UTC text in its `datetime`.
    const driver = queryRunner.connection.driver;
    const timestamp = driver.options.type === 'postgres' ? 'timestamptz' : driver.normalizeType({ type: Date });
    await queryRunner.createTable(
      new Table({
        name: 'hives',
        columns: [
          { name: 'id', type: 'varchar', length: '63', isPrimary: true },
          { name: 'host', type: 'varchar', length: '253' },
          { name: 'port', type: 'integer' },
          { name: 'ssh_user', type: 'varchar', length: '64', isNullable: true },
          { name: 'ssh_port', type: 'integer', isNullable: true },
          { name: 'ssh_secret', type: 'text', isNullable: true },
          { name: 'token_hash', type: 'varchar', length: '64' },
          { name: 'labels', type: 'text' },
          { name: 'cordoned', type: 'boolean', default: false },
          { name: 'status', type: 'varchar', length: '16', default: "'unknown'" },
          { name: 'last_heartbeat_at', type: timestamp, isNullable: true },
          { name: 'capabilities', type: 'text', isNullable: true },
          { name: 'created_at', type: timestamp },
          { name: 'updated_at', type: timestamp },
        ],
      }),
    );
    await queryRunner.createIndex('hives', new TableIndex({ name: 'idx_hives_token_hash', columnNames: ['token_hash'], isUnique: true }));
    await queryRunner.createIndex('hives', new TableIndex({ name: 'idx_hives_status', columnNames: ['status'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('hives');
  }
}
