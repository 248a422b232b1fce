import { Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { QueenMetrics } from './queen-metrics';

@Global()
@Module({ controllers: [MetricsController], providers: [QueenMetrics], exports: [QueenMetrics] })
export class MetricsModule {}
