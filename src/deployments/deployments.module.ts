import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { RegistryModule } from '../registry/registry.module';
import { SchedulingModule } from '../scheduling/scheduling.module';
import { DeploymentFacts } from './deployment-facts';
import { DeploymentsController } from './deployments.controller';
import { DeploymentsService } from './deployments.service';
import { Reconciler } from './reconciler.service';

/** Desired state (deployments) and the reconciler that keeps it running through the scheduler. */
@Module({
  imports: [CatalogModule, RegistryModule, SchedulingModule, IdempotencyModule],
  controllers: [DeploymentsController],
  providers: [DeploymentsService, DeploymentFacts, Reconciler],
})
export class DeploymentsModule {}
