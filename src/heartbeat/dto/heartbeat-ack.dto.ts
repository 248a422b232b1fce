export class HeartbeatAckDto {
  /** @example true */
  acknowledged: boolean;
  /** False when the heartbeat was older than the last one applied; it then changed nothing. @example true */
  applied: boolean;
  /** When to send the next heartbeat. @example 5000 */
  next_heartbeat_ms: number;
  /** True asks the hive to include `capabilities` in its next heartbeat. @example false */
  capabilities_required: boolean;
}
