import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createKeyIndex, createRing, loadRing, type KeyIndex, type Ring } from '@wsring/ring';
import { CloseCode } from '@wsring/protocol';
import { Admitter } from './admitter.js';
import { trustUserParam, withAuthTimeout } from './auth.js';
import { every, systemClock, withClockDeadline, type Clock } from './clock.js';
import { ConnectionRegistry, type ClientConnection } from './connections.js';
import { Delivery } from './delivery/service.js';
import { registerDeliveryMetrics } from './delivery/metrics.js';
import { DeliveryError } from './delivery/errors.js';
import type { Published, PublishOptions } from './delivery/publisher.js';
import { EpochAgreement } from './epoch.js';
import { AgentError } from './errors.js';
import { createHttpHandler } from './http.js';
import { FleetService } from './fleet-page/service.js';
import { ArrivalCounter } from './arrivals.js';
import { AdmissionGate } from './admission-gate.js';
import { warmingRate } from './warmup.js';
import { AdminAccess, checkAdminOptions } from './fleet-page/access.js';
import { FledNodes } from './liveness.js';
import { AgentMetrics } from './metrics.js';
import { DEFAULTS, resolveOptions, type ResolvedOptions } from './options.js';
import { Rebalancer } from './rebalancer.js';
import { handOff } from './handoff.js';
import { restartInPlace } from './restart-in-place.js';
import { Registration } from './registration.js';
import { peersTopology } from './fleet-view.js';
import { createTopologySigner, type TopologySigner } from './topology-signer.js';
import { openStore, type Store } from './store.js';
import { setupServer, type ServerSetup } from './server.js';
import { TopologyTracker, placementMembers, type SettledMembers } from './topology.js';
import { MemberPolicy } from './membership/policy.js';
import { memberKey } from './membership/records.js';
import { Transport, closeWith } from './transport.js';
import type { Agent, AgentOptions, AgentState, AgentTopology, HealthReport, Logger, MemberRecord, Membership, MembershipEvent, RebalanceEvent, StoreHealth } from './types.js';

const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** Every line the agent logs names its node once. */
function withNode(logger: Logger, node: string): Logger {
  return {
    info: (obj, msg) => logger.info({ node, ...obj }, msg),
    warn: (obj, msg) => logger.warn({ node, ...obj }, msg),
    error: (obj, msg) => logger.error({ node, ...obj }, msg),
    debug: (obj, msg) => logger.debug({ node, ...obj }, msg),
  };
}

/**
 * Wires the agent's modules together and owns its lifecycle (start, drain, close) and its NATS connection:
 * - `Registration`: this node's record and heartbeats; `TopologyTracker`: liveness and the settle window;
 * - `EpochAgreement` and `Rebalancer`: settled member sets -> ring, epoch, plan, paced reconnects;
 * - `Admitter` over `Transport`: who connects where; `Delivery`: the per-user log.
 * Every timer and clock reading goes through `options.clock`.
 */
class WsringAgent extends EventEmitter implements Agent {
  readonly id: string;
  url = '';
  readonly weight: number;
  state: AgentState = 'starting';

  private readonly o: ResolvedOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: AgentMetrics;
  private readonly registry: ConnectionRegistry;
  private readonly tracker: TopologyTracker;
  private readonly rebalancer: Rebalancer;
  private readonly admitter: Admitter;
  private readonly transport: Transport;
  private readonly registration: Registration;
  private readonly epochs: EpochAgreement;
  /** Which valid records this node uses: member URLs within allowedOrigins, at most maxMembers ids. */
  private readonly memberPolicy: MemberPolicy;
  /** Signs served topologies and checks peers' (topology-signer.ts); none without `topologySigningKey`. */
  private readonly signer: TopologySigner | undefined;
  private delivery: Delivery | undefined;
  private stopWatch: (() => void) | undefined;
  private stopConverging: (() => void) | undefined;
  private stopFollowing: (() => void) | undefined;
  /** Since when (this agent's clock) it has been cut off from the store, if it is. */
  private cutOffSince: number | undefined;
  /** Whether this cut-off episode's "peers not trusted" warning went out. */
  private cutOffWarned = false;
  private server: ServerSetup | undefined;
  private membershipConnected = true;
  private firstTopology: (() => void) | undefined;
  /** When this agent last asked its NATS client for another server. */
  private lastServerSwitch = -Infinity;
  /** Wakes a drain waiting for the node to empty (or for a close). */
  private readonly emptyWaiters = new Set<() => void>();
  /** Set while handing off: where users that connect here are sent. */
  private handoffUrl: string | undefined;
  /** The fleet page and the live preview (fleet-page/). */
  private readonly fleet: FleetService;
  /** Connections accepted, per 100 ms of this agent's clock: arrivals per second and their peak (/healthz, /metrics, fleet page). */
  private readonly arrivals: ArrivalCounter;
  /** Authenticated sockets wait here for their turn within this node's accept rate. */
  private readonly gate: AdmissionGate;
  /** When this process began serving (its clock): its declared accept rate warms up from then (warmup.ts). */
  private servingSince: number | undefined = undefined;
  readonly handleHttp: (req: IncomingMessage, res: ServerResponse) => boolean;

  constructor(
    private readonly options: AgentOptions,
    private readonly store: Store,
    emptyRing: Ring,
    index: KeyIndex,
  ) {
    super();
    this.o = resolveOptions(options);
    this.id = this.o.id;
    this.weight = this.o.weight;
    this.clock = options.clock ?? systemClock;
    this.logger = withNode(options.logger ?? silentLogger, this.id);
    this.metrics = new AgentMetrics(this.id);
    this.memberPolicy = new MemberPolicy({ allowedOrigins: this.o.allowedOrigins, maxMembers: this.o.maxMembers, logger: this.logger, metrics: this.metrics });
    if (!options.authenticate) this.logger.warn({ event: 'insecure' }, 'no authenticate: the `user` query parameter is trusted, anyone can connect as anyone (development only)');
    this.registry = new ConnectionRegistry(index);
    this.arrivals = new ArrivalCounter(this.clock);
    this.gate = new AdmissionGate({
      ratePerSec: this.o.acceptRate,
      maxWaitMs: this.o.admissionWaitMs,
      maxSessionsPerUser: this.o.maxSessionsPerUser,
      clock: this.clock,
      onError: (err) => this.logger.error({ err: String(err) }, 'admission failed'),
    });
    this.signer = options.topologySigningKey === undefined ? undefined : createTopologySigner(options.topologySigningKey);
    const prefsDepth = this.o.maxUnreachable + 1;
    this.registration = new Registration(store.membership, { id: this.id, weight: this.weight, acceptRate: this.declareAcceptRate(), heartbeatMs: this.o.heartbeatMs, clock: this.clock, logger: this.logger, onFailure: () => this.onHeartbeatFailure(),
      load: () => ({ connections: this.registry.size, capacity: this.o.capacity, acceptRate: this.declareAcceptRate() }),
    });
    this.epochs = new EpochAgreement(store.membership, { timeoutMs: this.o.livenessTimeoutMs, clock: this.clock, logger: this.logger });
    const fled = new FledNodes(() => this.clock.now(), this.o.restartWindowMs);
    this.tracker = new TopologyTracker(
      { settleMs: this.o.settleMs, livenessTimeoutMs: this.o.livenessTimeoutMs, heartbeatMs: this.o.heartbeatMs, clock: this.clock, self: this.id },
      (s) => this.onSettled(s),
      (members) => {
        if (this.tracker.isSynced) this.rebalancer.membersChanged(members);
      },
    );
    this.rebalancer = new Rebalancer(
      { self: this.id, pacing: this.o.pacing, convergeAfterMs: this.o.convergeAfterMs, defaultAcceptRate: DEFAULTS.acceptRate, prefsDepth, ring: options.ring, clock: this.clock, logger: this.logger, metrics: this.metrics, signer: this.signer },
      {
        registry: this.registry,
        epochs: this.epochs,
        fled,
        urlOfMember: (nodeId) => this.tracker.table.get(nodeId)?.url,
        recordOf: (nodeId) => this.tracker.table.get(nodeId),
      },
      {
        topology: (t) => this.emit('topology', t),
        rebalance: (e) => this.onApplied(e),
        sent: (e) => this.emit('rebalance-sent', e),
      },
      emptyRing,
    );
    this.admitter = new Admitter(
      { self: this.id, capacity: this.o.capacity, maxSessionsPerUser: this.o.maxSessionsPerUser, prefsDepth, clock: this.clock, metrics: this.metrics, signer: this.signer },
      {
        registry: this.registry,
        fled,
        serving: () => (this.state === 'serving' ? 'serving' : this.state === 'draining' ? 'draining' : 'not-serving'),
        handoffUrl: () => this.handoffUrl,
        topology: () => this.rebalancer.topology,
        knownEpoch: () => this.epochs.knownEpoch,
        feed: () => this.delivery?.feed,
        settledHere: (conn) => this.rebalancer.forget(conn),
        socketGone: (conn) => this.rebalancer.clearGrace(conn),
        unregistered: (socket) => this.transport.pending.add(socket),
        opened: (conn) => {
          this.arrivals.add();
          this.emit('connection', conn);
        },
        closed: (conn, code) => this.onClosed(conn, code),
      },
    );
    this.transport = new Transport(
      {
        authenticate: withAuthTimeout(options.authenticate ?? trustUserParam, this.o.authTimeoutMs, this.clock),
        messageRate: this.o.messageRate,
        resumeRate: this.o.resumeRate,
        maxUnreachable: this.o.maxUnreachable,
        gate: this.gate,
        clock: this.clock,
        logger: this.logger,
        metrics: this.metrics,
      },
      {
        admit: (socket, userId, params) => this.admitter.admit(socket, userId, params),
        message: (conn, data) => options.onMessage?.(conn.userId, data, conn),
        resume: (conn, last) => this.delivery?.feed.resume(conn, last),
        closed: (conn, code) => this.admitter.release(conn, code),
        holds: (userId) => this.registry.get(userId) !== undefined,
        wouldAccept: (userId, params) => this.admitter.wouldAccept(userId, params),
      },
    );
    this.metrics.observeArrivals(this.arrivals, () => this.gate.ratePerSec);
    this.metrics.observeAdmissionGate(this.gate);
    this.metrics.observeStore(() => this.storeHealth(), () => this.topology.ring.nodes.length);
    const agentHttp = createHttpHandler({
      prefix: this.o.httpPrefix,
      topology: () => this.topology,
      health: () => this.health(),
      unhealthy: () => this.state !== 'serving' || this.registry.size >= this.o.capacity,
      metrics: this.metrics,
      signer: this.signer,
    });
    this.handleHttp = (req, res) => this.fleet.handleHttp(req, res) || agentHttp(req, res);
    // ---- fleet page and live preview (fleet-page/) ----
    this.fleet = new FleetService({
      self: this.id,
      clock: this.clock,
      logger: this.logger,
      bucket: options.nats?.bucket ?? DEFAULTS.bucket,
      nc: store.nc,
      registry: this.registry,
      arrivals: this.arrivals,
      prefsDepth,
      ringOptions: options.ring,
      capacity: this.o.capacity,
      acceptRate: this.o.acceptRate,
      weight: this.weight,
      pacing: this.o.pacing,
      url: () => this.url,
      state: () => this.state,
      topology: () => this.topology,
      members: () => this.tracker.members,
      lanes: () => this.rebalancer.lanes,
      estimateMs: () => this.rebalancer.estimateMs(),
      pending: () => this.rebalancer.pending,
      store: () => this.storeHealth(),
      events: this,
    });
    const access = AdminAccess.from(options);
    if (access) this.fleet.servePage({ prefix: this.o.httpPrefix, access });
  }

  get topology(): AgentTopology {
    return this.rebalancer.topology;
  }

  get topologyPublicKey(): string | undefined {
    return this.signer?.publicKey;
  }

  get connections(): number {
    return this.registry.size;
  }

  /** The accept rate this node declares now (warming up for `warmupMs` after it began serving): sets its gate to it, returns it. */
  private declareAcceptRate(): number {
    const rate = warmingRate(this.o.acceptRate, this.servingSince === undefined ? undefined : this.clock.now() - this.servingSince, this.o.warmupMs);
    this.gate.setRate(rate);
    return rate;
  }

  get users(): number {
    return this.registry.users;
  }

  get port(): number | undefined {
    return this.server?.port;
  }

  async start(): Promise<void> {
    try {
      await this.join();
    } catch (err) {
      this.state = 'closed';
      this.fleet.stop();
      this.registration.stop();
      this.tracker.stop();
      this.rebalancer.stop();
      this.stopWatch?.();
      await this.delivery?.close();
      await this.server?.close();
      await this.store.release();
      throw err;
    }
    this.state = 'serving';
    this.servingSince = this.clock.now();
    this.declareAcceptRate();
    this.registration.startHeartbeats();
    this.stopConverging = every(this.clock, Math.max(1_000, Math.floor(this.o.convergeAfterMs / 6)), () => void this.rebalancer.converge());
    this.stopFollowing = every(this.clock, Math.max(500, Math.floor(this.o.livenessTimeoutMs / 4)), () => {
      this.watchPredecessor();
      void this.followFleetWhileCutOff();
    });
    this.logger.info({ url: this.url, port: this.port, epoch: this.topology.epoch, topologyKey: this.signer?.publicKey }, 'agent serving');
  }

  private async join(): Promise<void> {
    this.server = await setupServer({
      server: this.options.server,
      port: this.o.port,
      host: this.o.host,
      backlog: this.o.listenBacklog,
      path: this.o.path,
      maxPayload: this.o.maxPayload,
      serveHttp: this.o.serveHttp,
      onSocket: (socket, req) => this.transport.handle(socket, req),
      openSockets: () => [...this.transport.pending, ...Array.from(this.registry.all(), (c) => c.socket)],
      handleHttp: this.handleHttp,
      clock: this.clock,
      handshakeTimeoutMs: this.o.handshakeTimeoutMs,
      maxConnectionsPerAddress: this.o.maxConnectionsPerAddress,
      refused: (reason) => this.metrics.connectionsRefused.inc({ reason }),
    });
    this.url = this.options.url ?? this.defaultUrl();
    this.fleet.start();
    if (this.options.delivery !== false && this.store.nc) {
      this.delivery = await Delivery.start(this.store.nc, this.options.delivery, this.logger);
      registerDeliveryMetrics(this.metrics.registry, this.delivery);
    }
    const ready = new Promise<void>((resolve) => (this.firstTopology = resolve));
    const joined = (async () => {
      await this.registration.claim(this.url, this.o.livenessTimeoutMs);
      this.stopWatch = await this.store.membership.watch((e) => this.onMembershipEvent(e));
      await ready;
    })();
    await withClockDeadline(this.clock, joined, this.o.startTimeoutMs, () => new AgentError('MEMBERSHIP_UNAVAILABLE', `no topology from membership within ${this.o.startTimeoutMs} ms`));
  }

  private defaultUrl(): string {
    if (this.server?.port === undefined) throw new AgentError('INVALID_OPTION', '`url` is required when attaching to an existing server');
    const host = this.o.host === '0.0.0.0' || this.o.host === '::' ? '127.0.0.1' : this.o.host;
    return `ws://${host}:${this.server.port}${this.o.path}`;
  }

  private onMembershipEvent(e: MembershipEvent): void {
    if (e.type === 'put') {
      const reason = this.memberPolicy.check(e.record, this.tracker.table);
      if (reason !== undefined) e = { type: 'ignored', key: memberKey(e.record.id), reason };
    }
    if (e.type === 'ignored') {
      this.memberPolicy.ignored(e.key, e.reason);
      return;
    }
    if (e.type === 'topology') this.rebalancer.storedTopology(e.stored);
    if (e.type === 'put' && this.registration.observe(e.record)) void this.takeOver('handed over');
    if (e.type === 'delete' && e.id === this.id && this.registration.isSuccessor) void this.takeOver('the predecessor left');
    if (e.type === 'disconnected' || e.type === 'reconnected') {
      this.membershipConnected = e.type === 'reconnected';
      this.logger.warn({}, e.type === 'reconnected' ? 'membership store back, resynced' : 'membership store lost, keeping the last topology');
      this.emit('membership', { connected: this.membershipConnected });
      if (e.type === 'reconnected') {
        void this.registration.beat();
        void this.rebalancer.reconfirm();
      }
    }
    this.tracker.handle(e);
    if (e.type === 'put' && this.state !== 'closed') this.rebalancer.memberSeen(e.record);
  }

  /**
   * Cut off from the store for longer than the liveness timeout, this node cannot tell "NATS is down for everyone"
   * (nobody may move) from "only I am cut off" (the fleet has timed me out and placed my users elsewhere). Its
   * peers can: it asks up to three of them for their `/topology` over HTTP. If the fleet serves a newer ring
   * without this node, it adopts it and its users move there once; if the peers still serve its ring (a store
   * outage for all), nothing happens.
   */
  private async followFleetWhileCutOff(): Promise<void> {
    const now = this.clock.now();
    const cutOff = !this.membershipConnected || this.tracker.frozen === 'own-heartbeat-missing';
    if (!cutOff || this.state !== 'serving') {
      this.cutOffSince = undefined;
      this.cutOffWarned = false;
      return;
    }
    this.cutOffSince ??= now;
    if (now - this.cutOffSince < this.o.livenessTimeoutMs) return;
    if (!this.signer && !this.o.followUnsignedPeers) {
      // Peers' answers would be unsigned: anyone who can answer on a peer's address could take this node's users.
      if (!this.cutOffWarned) this.logger.warn({ cutOffMs: now - this.cutOffSince }, 'cut off from the store: without a topology signing key peers\' rings are not trusted, so this node keeps its users until the store is back (--topology-key-file, or --follow-unsigned-peers)');
      this.cutOffWarned = true;
      return;
    }
    const peers = this.topology.nodes.filter((n) => n.id !== this.id).map((n) => n.url);
    // A peer's answer counts only if the fleet signed it (unless unsigned peers are trusted by option).
    const fleet = await peersTopology(peers, { httpPrefix: this.o.httpPrefix, timeoutMs: Math.min(2_000, this.o.livenessTimeoutMs / 2), verify: this.signer?.verify, trustUnsigned: this.o.followUnsignedPeers });
    if (!fleet || fleet.epoch <= this.topology.epoch || fleet.ring.nodes.some((n) => n.id === this.id)) return;
    this.tracker.unsettle();
    await this.rebalancer.adopt(await loadRing(fleet.ring), fleet.epoch);
  }

  /**
   * A successor takes the id's record: handed over by the serving process, or that process is gone (it left, or it
   * has been silent for the liveness timeout while this process's own writes go through).
   */
  private async takeOver(why: string): Promise<void> {
    if (!this.registration.isSuccessor || this.state === 'closed') return;
    this.logger.info({ why }, 'successor takes over the node id');
    await this.registration.takeOver(this.topology.ring.nodes.some((n) => n.id === this.id) ? 'active' : 'joining');
  }

  /** Successor: the predecessor silent for the liveness timeout while the store is reachable is gone. */
  private watchPredecessor(): void {
    if (!this.registration.isSuccessor) return;
    if (this.registration.predecessorSilentMs() > this.o.livenessTimeoutMs && this.membershipConnected && !this.registration.heartbeatFailing) {
      void this.takeOver('the predecessor is silent');
    }
  }

  /**
   * Heartbeats that keep failing while the connection is up mean the server this agent talks to cannot reach the
   * store (cut off from its cluster, so JetStream has no quorum there): ask the NATS client for another server
   * before the fleet times this node out. At most once per half liveness period; harmless during an election.
   */
  private onHeartbeatFailure(): void {
    this.metrics.heartbeatFailures.inc();
    if (this.registration.consecutiveFailures >= 2) this.switchServer('heartbeats fail while connected to NATS');
  }

  /** Ask the NATS client for another server, at most once per half liveness period. */
  private switchServer(why: string): void {
    const nc = this.store.nc;
    if (!nc || !this.membershipConnected || this.state === 'closed') return;
    const now = this.clock.now();
    if (now - this.lastServerSwitch < this.o.livenessTimeoutMs / 2) return;
    this.lastServerSwitch = now;
    this.logger.warn({ failures: this.registration.consecutiveFailures }, `${why}: trying another server`);
    nc.reconnect().catch((err: unknown) => this.logger.warn({ err: String(err) }, 'switching NATS server failed'));
  }

  /**
   * A settled member set, applied unless it would take placement somewhere a serving fleet never is: an empty
   * ring, or one without this node while it serves (what a store fault, not the fleet, looks like).
   */
  private onSettled(s: SettledMembers): void {
    const placed = placementMembers(s.members);
    const selfPlaced = placed.some((m) => m.id === this.id);
    if (placed.length === 0 || (!selfPlaced && this.registration.state !== 'draining' && this.state !== 'closed')) {
      this.metrics.refusedRings.inc();
      this.logger.warn({ members: placed.map((m) => m.id) }, placed.length === 0 ? 'refusing an empty ring' : 'refusing a ring without this serving node');
      return;
    }
    void this.rebalancer.settle(s, () => this.tracker.members);
  }

  /** A settled member set is applied: a joining node that is now in the ring says it is active; `start` may finish. */
  private onApplied(e: RebalanceEvent): void {
    if (this.registration.state === 'joining' && this.topology.ring.nodes.some((n) => n.id === this.id)) void this.registration.setState('active');
    this.emit('rebalance', e);
    this.firstTopology?.();
    this.firstTopology = undefined;
  }

  private onClosed(conn: ClientConnection, code: number): void {
    this.emit('disconnection', { userId: conn.userId, code });
    if (this.registry.size === 0) for (const wake of this.emptyWaiters) wake();
  }

  // ---- public ----

  publish(userId: string, data: unknown, options?: PublishOptions): Promise<Published> {
    if (!this.delivery) return Promise.reject(new DeliveryError('NO_STORE', 'delivery needs a NATS connection (the `nats` option) and `delivery` not false'));
    return this.delivery.publisher.publish(userId, data, options);
  }

  /** To every session of the user here; true if at least one was open. */
  sendTo(userId: string, data: unknown): boolean {
    let sent = false;
    for (const conn of this.registry.sessionsOf(userId)) sent = conn.send(data) || sent;
    return sent;
  }

  sessions(userId: string): readonly ClientConnection[] {
    return this.registry.sessionsOf(userId);
  }

  connection(userId: string): ClientConnection | undefined {
    return this.registry.get(userId);
  }

  health(): HealthReport {
    return {
      id: this.id,
      state: this.state,
      connections: this.registry.size,
      users: this.registry.users,
      capacity: this.o.capacity,
      epoch: this.topology.epoch,
      ringNodes: this.topology.ring.nodes.length,
      membershipConnected: this.membershipConnected,
      store: this.storeHealth(),
      arrivals: { perSec: this.arrivals.perSec, peakPerSec: this.arrivals.peak, total: this.arrivals.total },
      admissionGate: { waiting: this.gate.waiting, queued: this.gate.queued, overflowed: this.gate.overflowed },
    };
  }

  private storeHealth(): StoreHealth {
    const frozen = this.tracker.frozen;
    return { connected: this.membershipConnected, heartbeatFailing: this.registration.heartbeatFailing, placementFrozen: frozen ?? null };
  }

  async drain(options: { deadlineMs?: number } = {}): Promise<{ remaining: number }> {
    if (this.state === 'closed') throw new AgentError('CLOSED', 'agent is closed');
    const deadlineMs = options.deadlineMs ?? this.o.drainDeadlineMs;
    if (this.state !== 'draining') {
      this.state = 'draining';
      this.fleet.drainStarted(deadlineMs);
      this.logger.info({ connections: this.registry.size, deadlineMs }, 'draining');
      const planned = this.nextRebalance(this.o.settleMs + this.o.livenessTimeoutMs);
      await this.registration.setState('draining');
      if (this.registry.size > 0 && (await planned)) this.sizeDrain(deadlineMs);
    }
    if (this.registry.size > 0) await this.untilEmpty(deadlineMs);
    const remaining = this.registry.size;
    if (remaining > 0 && this.state === 'draining') await this.spreadRemainder();
    this.logger.info({ remaining }, 'drain finished');
    await this.close();
    return { remaining };
  }

  /**
   * The deadline came with users still here: they get their reconnect frames at once, each with a delay that
   * spreads them at the receivers' budgets (never a crowd closed at once); the close handshakes get a moment.
   */
  private async spreadRemainder(): Promise<void> {
    const conns = [...this.registry.all()];
    const { users, spreadMs } = this.rebalancer.spreadRemainder();
    this.metrics.drainSpread.set(spreadMs / 1000);
    this.logger.warn({ users, spreadMs, left: conns.length }, 'drain deadline reached: the remaining users got their reconnect frames with delays spreading them at the receivers\' accept rates');
    const closed = conns.map((conn) => new Promise<void>((resolve) => (conn.socket.readyState === conn.socket.CLOSED ? resolve() : conn.socket.once('close', () => resolve()))));
    await withClockDeadline(this.clock, Promise.all(closed), 2_000, () => new Error('close handshakes')).catch(() => {});
  }

  async restartInPlace(options: { backInMs?: number } = {}): Promise<{ users: number; spreadMs: number }> {
    if (this.state === 'closed') throw new AgentError('CLOSED', 'agent is closed');
    const { users, spreadMs, closed: conns } = await restartInPlace(
      {
        registry: this.registry,
        registration: this.registration,
        acceptRate: this.o.acceptRate,
        livenessTimeoutMs: this.o.livenessTimeoutMs,
        logger: this.logger,
        metrics: this.metrics,
        stop: () => {
          this.state = 'closed';
          for (const wake of [...this.emptyWaiters]) wake();
          this.stopConverging?.();
          this.stopFollowing?.();
          this.tracker.stop();
          this.rebalancer.stop();
          this.stopWatch?.();
        },
      },
      options.backInMs ?? this.o.restartBackInMs,
    );
    // Let the close handshakes finish (the restart frame must reach each client) before the server goes.
    const closed = conns.map((conn) => new Promise<void>((resolve) => (conn.socket.readyState === conn.socket.CLOSED ? resolve() : conn.socket.once('close', () => resolve()))));
    await withClockDeadline(this.clock, Promise.all(closed), 2_000, () => new Error('close handshakes')).catch(() => {});
    await this.delivery?.close();
    await this.store.release();
    await this.server?.close();
    this.logger.info({ users }, 'stopped for a restart in place');
    return { users, spreadMs };
  }

  /** The record of a live successor of this node (a handoff deploy), if one waits. */
  successor(): Promise<MemberRecord | undefined> {
    return this.registration.liveSuccessor(this.o.livenessTimeoutMs);
  }

  /**
   * Handoff deploy: the process started under this id elsewhere takes over. This one gives it the id's record
   * (the ring keeps the node; only its URL changes), then sends each of its users a reconnect frame naming this
   * same node at the successor's URL, paced at the successor's accept rate; nobody else moves. Users left at the
   * deadline get their frames with delays (as in a drain). The record is left to the successor.
   */
  async handoff(options: { deadlineMs?: number } = {}): Promise<{ users: number; remaining: number }> {
    if (this.state === 'closed') throw new AgentError('CLOSED', 'agent is closed');
    const successor = await this.successor();
    if (!successor) throw new AgentError('NO_SUCCESSOR', `no live successor waits under node id ${this.id}`);
    const result = await handOff(
      {
        self: this.id,
        registration: this.registration,
        rebalancer: this.rebalancer,
        registry: this.registry,
        logger: this.logger,
        settleMs: this.o.settleMs,
        livenessTimeoutMs: this.o.livenessTimeoutMs,
        jitterMs: this.o.pacing.jitterMs,
        defaultAcceptRate: DEFAULTS.acceptRate,
        begin: (url) => {
          this.handoffUrl = url;
          this.state = 'draining';
          this.stopConverging?.();
        },
        untilTopology: (ready, ms) => this.untilTopology(ready, ms),
        untilEmpty: (ms) => this.untilEmpty(ms),
        handingOff: () => this.state === 'draining',
        spreadRemainder: () => this.spreadRemainder(),
      },
      successor,
      options.deadlineMs ?? this.o.drainDeadlineMs,
    );
    await this.close();
    return result;
  }

  /** Resolves once `ready()` holds after a topology change (or now), or after `ms`. */
  private untilTopology(ready: () => boolean, ms: number): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.clock.clearTimeout(timer);
        this.off('topology', check);
        resolve();
      };
      const check = () => {
        if (ready()) done();
      };
      const timer = this.clock.setTimeout(done, ms);
      this.on('topology', check);
    });
  }

  /** Resolves true at the next applied rebalance, false after `ms`. */
  private nextRebalance(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (applied: boolean) => {
        this.clock.clearTimeout(timer);
        this.off('rebalance', onRebalance);
        resolve(applied);
      };
      const onRebalance = () => done(true);
      const timer = this.clock.setTimeout(() => done(false), ms);
      this.on('rebalance', onRebalance);
    });
  }

  /**
   * The time this drain needs at the receivers' budgets, said at its start. A deadline shorter than that is an
   * operator's decision to make knowingly: logged, and exported as `wsring_drain_expected_seconds` beside the deadline.
   */
  private sizeDrain(deadlineMs: number): void {
    const expectedMs = this.rebalancer.estimateMs() + this.o.pacing.jitterMs;
    this.metrics.drainExpected.set(expectedMs / 1000);
    this.metrics.drainDeadline.set(deadlineMs / 1000);
    const lanes = this.rebalancer.lanes.map((l) => ({ to: l.to, users: l.queued, perSec: Math.round(l.ratePerSec) }));
    if (expectedMs > deadlineMs) {
      this.logger.warn({ expectedMs: Math.round(expectedMs), deadlineMs, lanes }, 'drain deadline too short for the load at the receivers\' accept rates: users left at the deadline get their reconnect frames at once, each delayed to its slot at the receivers\' rates');
    } else this.logger.info({ expectedMs: Math.round(expectedMs), deadlineMs, lanes }, 'drain sized');
  }

  /** Resolves when the last connection is gone, the deadline passes, or the agent closes. */
  private untilEmpty(deadlineMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.clock.clearTimeout(timer);
        this.emptyWaiters.delete(done);
        resolve();
      };
      const timer = this.clock.setTimeout(done, deadlineMs);
      this.emptyWaiters.add(done);
    });
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const wake of [...this.emptyWaiters]) wake();
    this.fleet.stop();
    this.registration.stop();
    this.stopConverging?.();
    this.stopFollowing?.();
    this.tracker.stop();
    this.rebalancer.stop();
    this.stopWatch?.();
    this.gate.close();
    for (const conn of [...this.registry.all()]) closeWith(conn.socket, CloseCode.GOING_AWAY, 'node shutting down', this.metrics);
    await this.delivery?.close();
    await this.registration.deregister();
    await this.store.release();
    await this.server?.close();
    this.logger.info({}, 'agent closed');
  }
}

/** Start an agent: open the store, bind or attach, register in membership, wait for the first topology. */
export async function createAgent(options: AgentOptions): Promise<Agent> {
  resolveOptions(options);
  checkAdminOptions(options);
  const [ring, index] = await Promise.all([createRing([], options.ring), createKeyIndex(undefined, { seed: options.ring?.seed ?? 0 })]);
  const store = await openStore(options, options.logger ?? silentLogger);
  const agent = new WsringAgent(options, store, ring, index);
  await agent.start();
  return agent;
}
