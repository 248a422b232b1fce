import { Module } from '@nestjs/common';
import { QueenConfig } from '../config/queen-config';
import { loadOrCreateSecretKey, SecretBox } from '../security/secret-box';
import { HiveCatalog } from './hive-catalog.service';
import { HivesController } from './hives.controller';

@Module({
  controllers: [HivesController],
  providers: [
    HiveCatalog,
    {
      provide: SecretBox,
      inject: [QueenConfig],
      useFactory: (config: QueenConfig) => new SecretBox(loadOrCreateSecretKey(config.secretKey, config.dataDir)),
    },
  ],
  exports: [HiveCatalog],
})
export class CatalogModule {}
