/**
 * DataSource for the TypeORM CLI (`npm run migration:run`), built from the
 * same validated environment and options as the app.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from './src/platform/config/queen-config';
import { buildDataSourceOptions } from './src/catalog/database/database-options';

export default new DataSource(buildDataSourceOptions(loadConfig(process.env).database));
