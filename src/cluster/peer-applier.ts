import { Injectable } from '@nestjs/common';
import { DeploymentCatalog } from '../catalog/deployment-catalog';
import { CapabilitiesService } from '../heartbeat/capabilities.service';
import { HeartbeatService } from '../heartbeat/heartbeat.service';
import { HivesService } from '../hives/hives.service';
import type { PeerMessage } from '../platform/cluster/cluster-link';
import { FleetEvents } from '../platform/events/fleet-events';

/** Applies what another queen told this one, each fact to its owner here. */
@Injectable()
export class PeerApplier {
  constructor(
    private readonly heartbeats: HeartbeatService,
    private readonly capabilities: CapabilitiesService,
    private readonly hives: HivesService,
    private readonly deployments: DeploymentCatalog,
    private readonly events: FleetEvents,
  ) {}

  async apply(message: PeerMessage): Promise<void> {
    switch (message.t) {
      case 'hb':
        this.heartbeats.applyShared(message);
        return;
      case 'caps':
        this.capabilities.applyShared(message.hive, message.caps, message.at);
        return;
      case 'hive':
        await this.hives.followPeer(message.id);
        return;
      case 'deployments':
        await this.deployments.reload(message.names, message.workers);
        return;
      case 'event':
        this.events.deliver(message.event);
        return;
    }
  }
}
