import { Module } from '@nestjs/common';
import { HiveClient } from './hive-client';

/** HTTP to hive agents: spawn and stop workers, pull device reports. */
@Module({ providers: [HiveClient], exports: [HiveClient] })
export class HiveClientModule {}
