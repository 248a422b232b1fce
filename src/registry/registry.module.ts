import { Module } from '@nestjs/common';
import { HiveRegistry } from './hive-registry';

/** The in-memory runtime view of the fleet: one `HiveRegistry` for the whole app. */
@Module({
  providers: [HiveRegistry],
  exports: [HiveRegistry],
})
export class RegistryModule {}
