import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Fleet figures computed when scraped, supplied by the module that can see the fleet (snake_case: the `/v1/fleet` body). */
export interface FleetSnapshot {
  hives: Record<string, number>;
  workers: Record<string, number>;
  vram: { total_bytes: number; used_bytes: number; reserved_bytes: number };
  reservations: number;
}

/**
 * The queen's Prometheus metrics, on a registry of its own (not prom-client's
 * global one, so several apps in one process, as in tests, do not collide).
 */
@Injectable()
export class QueenMetrics {
  readonly registry = new Registry();
  private fleetSnapshot: (() => FleetSnapshot) | null = null;
  private sqlStatements: (() => number) | null = null;

  readonly heartbeats = new Counter({
    name: 'queen_heartbeats_total',
    help: 'Heartbeats received, by result (applied, stale, unauthorized, forbidden, unknown_hive, invalid)',
    labelNames: ['result'],
    registers: [this.registry],
  });

  readonly heartbeatDuration = new Histogram({
    name: 'queen_heartbeat_duration_seconds',
    help: 'Time to handle one heartbeat, from routing to response',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });

  readonly placements = new Counter({
    name: 'queen_placements_total',
    help: 'Placement decisions, by route (plan, spawn) and result (placed, rejected, spawn_failed)',
    labelNames: ['route', 'result'],
    registers: [this.registry],
  });

  readonly catalogFlushDuration = new Histogram({
    name: 'queen_catalog_flush_duration_seconds',
    help: 'Time to write one coalesced batch of heartbeat times to the catalog',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly catalogFlushBatch = new Histogram({
    name: 'queen_catalog_flush_batch_hives',
    help: 'Hives written per coalesced catalog flush',
    buckets: [1, 10, 100, 500, 1000, 5000, 10000, 50000],
    registers: [this.registry],
  });

  readonly eventClients = new Gauge({
    name: 'queen_event_clients',
    help: 'Clients connected to the /v1/events stream',
    registers: [this.registry],
  });

  readonly requestsShed = new Counter({
    name: 'queen_requests_shed_total',
    help: 'Admin API requests refused with 429 because the event loop ran later than OVERLOAD_LAG_MS',
    registers: [this.registry],
  });

  readonly reconcileActions = new Counter({
    name: 'queen_reconcile_actions_total',
    help: 'Actions the deployment reconciler took: start, stop, forget (a failed worker), evict (a worker of a hive away too long)',
    labelNames: ['action'],
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: 'queen_reconcile_duration_seconds',
    help: 'Duration of one reconcile pass over every deployment',
    buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });

  private deploymentReplicas: (() => { deployment: string; state: string; count: number }[]) | null = null;

  readonly eventClientsDropped = new Counter({
    name: 'queen_event_clients_dropped_total',
    help: 'Event stream clients disconnected for falling too far behind',
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: 'queen_leader',
    help: '1 while this queen leads the cluster (sweeps liveness, reconciles), else 0',
    registers: [this.registry],
  });

  readonly leaderTerm = new Gauge({
    name: 'queen_leader_term',
    help: 'The leadership term this queen last saw; it increases at every change of leader',
    registers: [this.registry],
  });

  readonly fanoutMessages = new Counter({
    name: 'queen_fanout_messages_total',
    help: 'Facts shared with the other queens (sent) and taken from them (received)',
    labelNames: ['direction'],
    registers: [this.registry],
  });

  constructor() {
    // Process and Node.js metrics under their standard names, so stock dashboards find them. Three of them
    // are gauges named `_total`, which Prometheus reserves for counters; each is the sum of its per-type
    // gauge (`sum(nodejs_active_handles)`), so they are left out.
    collectDefaultMetrics({ register: this.registry });
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    const sqlStatements = () => this.sqlStatements?.() ?? 0;
    new Counter({
      name: 'queen_sql_statements_total',
      help: 'SQL statements sent to the database',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(sqlStatements());
      },
    });
    const replicas = () => this.deploymentReplicas?.() ?? [];
    new Gauge({
      name: 'queen_deployment_replicas',
      help: 'Workers of each deployment by state: desired, ready, starting, lost, unplaced',
      labelNames: ['deployment', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { deployment, state, count } of replicas()) this.set({ deployment, state }, count);
      },
    });
    // Four gauges read one snapshot per scrape: it is taken once and dropped after this turn of the event loop.
    let snapshot: FleetSnapshot | undefined;
    const fleet = (): FleetSnapshot | undefined => {
      if (snapshot === undefined && this.fleetSnapshot) {
        snapshot = this.fleetSnapshot();
        setImmediate(() => (snapshot = undefined));
      }
      return snapshot;
    };
    new Gauge({
      name: 'queen_hives',
      help: 'Registered hives, by status',
      labelNames: ['status'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [status, count] of Object.entries(fleet()?.hives ?? {})) this.set({ status }, count);
      },
    });
    new Gauge({
      name: 'queen_workers',
      help: 'Workers reported by hives, by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [state, count] of Object.entries(fleet()?.workers ?? {})) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'queen_vram_bytes',
      help: 'GPU memory across online hives: total, used (reported by workers) and reserved (held for starting workers)',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        const vram = fleet()?.vram ?? { total_bytes: 0, used_bytes: 0, reserved_bytes: 0 };
        this.set({ kind: 'total' }, vram.total_bytes);
        this.set({ kind: 'used' }, vram.used_bytes);
        this.set({ kind: 'reserved' }, vram.reserved_bytes);
      },
    });
    new Gauge({
      name: 'queen_reservations',
      help: 'Reservations held for workers being started',
      registers: [this.registry],
      collect() {
        this.set(fleet()?.reservations ?? 0);
      },
    });
  }

  /** Called once by the module that owns the database connection. */
  countSqlStatements(read: () => number): void {
    this.sqlStatements = read;
  }

  /** Called once by the deployments module: replicas per deployment and state, read at each scrape. */
  provideDeploymentReplicas(read: () => { deployment: string; state: string; count: number }[]): void {
    this.deploymentReplicas = read;
  }

  /** Called once by the module that can see the catalog and registry. */
  provideFleetSnapshot(snapshot: () => FleetSnapshot): void {
    this.fleetSnapshot = snapshot;
  }
}
