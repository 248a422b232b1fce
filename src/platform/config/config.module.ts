import { DynamicModule, Global, Module } from '@nestjs/common';
import { QueenConfig } from './queen-config';

/** Makes the validated {@link QueenConfig} injectable everywhere by its class. */
@Global()
@Module({})
export class QueenConfigModule {
  static forRoot(config: QueenConfig): DynamicModule {
    return { module: QueenConfigModule, providers: [{ provide: QueenConfig, useValue: config }], exports: [QueenConfig] };
  }
}
