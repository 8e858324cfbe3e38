import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StoreHealth } from './types.js';

/** The agent's Prometheus metrics, in a registry of its own so several agents can share a process. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly connections: Gauge;
  readonly users: Gauge;
  readonly epoch: Gauge;
  readonly usersMoved: Counter;
  readonly sessionsMoved: Counter;
  readonly reconnectsSent: Counter;
  readonly graceCloses: Counter;
  readonly topologyRequests: Counter;
  readonly redirects: Counter<'reason'>;
  readonly refused: Counter<'code'>;
  readonly rebalanceDuration: Histogram;
  readonly planDuration: Histogram;
  readonly heartbeatFailures: Counter;
  readonly refusedRings: Counter;
  readonly drainExpected: Gauge;
  readonly drainDeadline: Gauge;
  readonly authFailures: Counter<'reason'>;
  readonly tokensExpired: Counter;
  readonly recordsIgnored: Counter<'reason'>;
  readonly connectionsRefused: Counter<'reason'>;
  readonly drainSpread: Gauge;

  constructor(nodeId: string) {
    this.registry.setDefaultLabels({ node: nodeId });
    const registers = [this.registry];
    this.connections = new Gauge({ name: 'wsring_connections', help: 'Open client sessions (sockets) on this node; a user may hold several', registers });
    this.users = new Gauge({ name: 'wsring_users', help: 'Users with at least one open session on this node', registers });
    this.epoch = new Gauge({ name: 'wsring_epoch', help: 'Topology epoch this node serves with', registers });
    this.usersMoved = new Counter({ name: 'wsring_users_moved_total', help: 'Local users a rebalance planned to move', registers });
    this.sessionsMoved = new Counter({ name: 'wsring_sessions_moved_total', help: 'Sessions sent a reconnect frame (every session of a moved user gets one)', registers });
    this.reconnectsSent = new Counter({ name: 'wsring_reconnects_sent_total', help: 'Pacer turns that sent a moved user its reconnect frames (one per user, whatever its sessions)', registers });
    this.graceCloses = new Counter({
      name: 'wsring_grace_closes_total',
      help: 'Open connections the agent closed with MOVED because the client had not left within the grace period of its reconnect frame',
      registers,
    });
    this.topologyRequests = new Counter({ name: 'wsring_topology_requests_total', help: 'GET /topology requests answered', registers });
    this.redirects = new Counter({ name: 'wsring_redirects_total', help: 'Connections redirected at connect', labelNames: ['reason'], registers });
    this.refused = new Counter({ name: 'wsring_refused_total', help: 'Connections closed by the agent, by close code', labelNames: ['code'], registers });
    this.rebalanceDuration = new Histogram({
      name: 'wsring_rebalance_duration_seconds',
      help: 'From a settled topology to the last reconnect frame of its rebalance',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.planDuration = new Histogram({
      name: 'wsring_plan_duration_seconds',
      help: 'Time to compute the moved local users of a topology change',
      buckets: [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers,
    });
    this.heartbeatFailures = new Counter({ name: 'wsring_heartbeat_failures_total', help: 'Heartbeats this node failed to write to the membership store', registers });
    this.refusedRings = new Counter({
      name: 'wsring_rings_refused_total',
      help: 'Settled member sets not applied because they were empty or lacked this serving node (a store fault, not a fleet change)',
      registers,
    });
    this.drainExpected = new Gauge({ name: 'wsring_drain_expected_seconds', help: 'Time the current drain needs at the receivers\' accept rates, computed at its start', registers });
    this.drainDeadline = new Gauge({ name: 'wsring_drain_deadline_seconds', help: 'Deadline of the current drain', registers });
    this.authFailures = new Counter({ name: 'wsring_auth_failures_total', help: 'Connections refused UNAUTHORIZED, by reason (missing-token, expired, bad-signature, claim-<name>, bad-user-id...)', labelNames: ['reason'], registers });
    this.tokensExpired = new Counter({ name: 'wsring_tokens_expired_total', help: 'Open connections closed TOKEN_EXPIRED because their token passed its exp', registers });
    this.recordsIgnored = new Counter({ name: 'wsring_membership_records_ignored_total', help: 'Membership records ignored as invalid or untrusted, by reason', labelNames: ['reason'], registers });
    this.connectionsRefused = new Counter({
      name: 'wsring_connections_refused_total',
      help: 'TCP connections the agent dropped before any WebSocket: per-address cap, handshake timeout, upgrade on an unknown path',
      labelNames: ['reason'],
      registers,
    });
    this.drainSpread = new Gauge({ name: 'wsring_drain_spread_seconds', help: 'Longest delay given to users left at the drain deadline (0: none were left)', registers });
  }

  /** Arrivals read at scrape time: this node's accepted connections and their peak, beside its declared accept rate. */
  observeArrivals(arrivals: { readonly total: number; readonly peak: number }, acceptRate: () => number): void {
    const registers = [this.registry];
    new Counter({ name: 'wsring_arrivals_total', help: 'Client connections this node accepted (moved users and new ones)', registers, collect() { this.reset(); this.inc(arrivals.total); } });
    new Gauge({ name: 'wsring_arrivals_peak_per_second', help: 'Most connections accepted in any one-second window of the last ten (100 ms resolution); a receiver budget keeps moved users within wsring_accept_rate', registers, collect() { this.set(arrivals.peak); } });
    new Gauge({ name: 'wsring_accept_rate', help: 'Users per second this node declares now in its membership record and admits at (--accept-rate; less while it warms up, --warmup-ms)', registers, collect() { this.set(acceptRate()); } });
  }

  /** The admission gate: sockets waiting for their turn within the accept rate, and those let through past the wait. */
  observeAdmissionGate(gate: { readonly waiting: number; readonly queued: number; readonly overflowed: number }): void {
    const registers = [this.registry];
    new Gauge({ name: 'wsring_admission_waiting', help: 'Users (their authenticated sockets) waiting for their turn within the accept rate', registers, collect() { this.set(gate.waiting); } });
    new Counter({ name: 'wsring_admission_queued_total', help: 'Users that had to wait at the admission gate (the rest passed at once)', registers, collect() { this.reset(); this.inc(gate.queued); } });
    new Counter({ name: 'wsring_admission_overflows_total', help: 'Users let through without a turn (past --admission-wait-ms, or while more waited than it admits in that time): arrivals above the accept rate', registers, collect() { this.reset(); this.inc(gate.overflowed); } });
  }

  /** Gauges read at scrape time: store health and the ring's size. */
  observeStore(store: () => StoreHealth, ringNodes: () => number): void {
    const registers = [this.registry];
    new Gauge({ name: 'wsring_store_connected', help: '1 while the membership store connection is up', registers, collect() { this.set(store().connected ? 1 : 0); } });
    new Gauge({
      name: 'wsring_store_healthy',
      help: '1 while this node is connected, its heartbeats are written and come back through the watch',
      registers,
      collect() {
        const s = store();
        this.set(s.connected && !s.heartbeatFailing && s.placementFrozen === null ? 1 : 0);
      },
    });
    new Gauge({
      name: 'wsring_placement_frozen',
      help: '1 while no member is timed out because the store cannot be trusted to deliver heartbeats',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        const reason = store().placementFrozen;
        if (reason !== null) this.set({ reason }, 1);
      },
    });
    new Gauge({ name: 'wsring_ring_nodes', help: 'Nodes in the ring this node serves with', registers, collect() { this.set(ringNodes()); } });
  }
}
