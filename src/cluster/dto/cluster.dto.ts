export class QueenDto {
  /** @example "queen-a:7833" */
  queen_id: string;
  /** @example "http://10.0.0.2:7833" */
  url: string;
  /** When this queen was last heard from. @example "2026-11-27T10:00:00.000Z" */
  last_seen_at: string;
}

export class ClusterDto {
  /** The queen that answered. @example "queen-a:7833" */
  queen_id: string;
  /** The queen that leads (sweeps liveness, reconciles); null while none does. @example "queen-a:7833" */
  leader_id: string | null;
  /** Leadership term: increases each time another queen takes the lead. @example 1 */
  term: number;
  /** The queens serving this fleet. */
  queens: QueenDto[];
}
