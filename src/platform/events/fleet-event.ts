/** Event types streamed to clients on GET /v1/events. */
export const PUBLIC_EVENT_TYPES = [
  'hive.online',
  'hive.offline',
  'hive.capabilities',
  'hive.removed',
  'worker.added',
  'worker.removed',
  'placement.created',
  'deployment.created',
  'deployment.updated',
  'deployment.deleted',
  'deployment.worker_started',
  'deployment.worker_replaced',
  'fleet.outage',
  'fleet.recovered',
  'queen.leader',
] as const;
export type PublicEventType = (typeof PUBLIC_EVENT_TYPES)[number];

export interface FleetEvent {
  type: PublicEventType;
  /** Queen clock, epoch ms. */
  at: number;
  data: Record<string, unknown>;
}
