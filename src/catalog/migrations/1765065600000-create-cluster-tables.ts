import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * The tables several queens share: the leadership row (who leads, in which term) and the capacity
 * held for workers being started, which every queen's placement reads. A queen on its own leaves them empty.
 */
export class CreateClusterTables1765065600000 implements MigrationInterface {
  name = 'CreateClusterTables1765065600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const driver = queryRunner.connection.driver;
    const timestamp = driver.options.type === 'postgres' ? 'timestamptz' : driver.normalizeType({ type: Date });
    await queryRunner.createTable(
      new Table({
        name: 'queen_leadership',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true },
          { name: 'leader_id', type: 'varchar', length: '128', isNullable: true },
          { name: 'term', type: 'bigint' },
          { name: 'elected_at', type: timestamp, isNullable: true },
        ],
      }),
    );
    await queryRunner.query('INSERT INTO queen_leadership (id, leader_id, term, elected_at) VALUES (1, NULL, 0, NULL)');
    await queryRunner.createTable(
      new Table({
        name: 'cluster_reservations',
        columns: [
          { name: 'id', type: 'varchar', length: '32', isPrimary: true },
          { name: 'queen_id', type: 'varchar', length: '128' },
          { name: 'hive_id', type: 'varchar', length: '63' },
          { name: 'worker_id', type: 'varchar', length: '63' },
          { name: 'model_id', type: 'varchar', length: '256' },
          { name: 'backend', type: 'varchar', length: '8' },
          { name: 'device_id', type: 'integer', isNullable: true },
          { name: 'device', type: 'varchar', length: '32' },
          { name: 'vram_bytes', type: 'bigint' },
          { name: 'ram_bytes', type: 'bigint' },
          { name: 'created_at', type: 'bigint' },
          { name: 'expires_at', type: 'bigint' },
          { name: 'released', type: 'boolean', default: false },
        ],
      }),
    );
    await queryRunner.createIndex('cluster_reservations', new TableIndex({ name: 'idx_cluster_reservations_expires', columnNames: ['expires_at'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('cluster_reservations');
    await queryRunner.dropTable('queen_leadership');
  }
}
