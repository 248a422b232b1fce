import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Creates the deployments table and the record of the workers started for them. */
export class CreateDeployments1764892800000 implements MigrationInterface {
  name = 'CreateDeployments1764892800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const driver = queryRunner.connection.driver;
    const timestamp = driver.options.type === 'postgres' ? 'timestamptz' : driver.normalizeType({ type: Date });
    await queryRunner.createTable(
      new Table({
        name: 'deployments',
        columns: [
          { name: 'name', type: 'varchar', length: '63', isPrimary: true },
          { name: 'spec', type: 'text' },
          { name: 'created_at', type: timestamp },
          { name: 'updated_at', type: timestamp },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'deployment_workers',
        columns: [
          { name: 'worker_id', type: 'varchar', length: '63', isPrimary: true },
          { name: 'deployment', type: 'varchar', length: '63' },
          { name: 'hive_id', type: 'varchar', length: '63' },
          { name: 'device', type: 'varchar', length: '32' },
          { name: 'started_at', type: timestamp },
          { name: 'replaced', type: 'boolean', default: false },
        ],
      }),
    );
    await queryRunner.createIndex('deployment_workers', new TableIndex({ name: 'idx_deployment_workers_deployment', columnNames: ['deployment'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('deployment_workers');
    await queryRunner.dropTable('deployments');
  }
}
