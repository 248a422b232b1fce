import { Module } from '@nestjs/common';
import { ClusterController } from './cluster.controller';
import { ClusterService } from './cluster.service';

/** The queens serving the fleet: GET /v1/cluster. */
@Module({
  controllers: [ClusterController],
  providers: [ClusterService],
})
export class ClusterModule {}
