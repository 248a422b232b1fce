import { Module, OnApplicationBootstrap } from '@nestjs/common';
import { Clock } from '../platform/clock/clock';
import { QueenConfig } from '../platform/config/queen-config';
import { HiveRegistry } from './hive-registry';

/** The in-memory live state of the fleet: one `HiveRegistry` for the whole app. */
@Module({
  providers: [
    {
      provide: HiveRegistry,
      inject: [QueenConfig, Clock],
      useFactory: (config: QueenConfig, clock: Clock) => new HiveRegistry(config.heartbeatTimeoutMs, clock.now()),
    },
  ],
  exports: [HiveRegistry],
})
export class RegistryModule implements OnApplicationBootstrap {
  constructor(
    private readonly registry: HiveRegistry,
    private readonly clock: Clock,
  ) {}

  /** The start-up grace counts from when the queen is about to listen, not from when it began migrating. */
  onApplicationBootstrap(): void {
    this.registry.markStarted(this.clock.now());
  }
}
