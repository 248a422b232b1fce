/** What the database wiring needs from the catalog: its entities and migrations, in order. */
import { HiveEntity } from './hive.entity';
import { CreateHives1764201600000 } from './migrations/1764201600000-create-hives';

export const CATALOG_ENTITIES = [HiveEntity];
export const CATALOG_MIGRATIONS = [CreateHives1764201600000];
