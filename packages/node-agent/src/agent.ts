import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import { createKeyIndex, createRing, type Ring } from '@wsring/ring';
import { CloseCode, type ConnectParams } from '@wsring/protocol';
import { decideAdmission } from './admission.js';
import { trustUserParam, withAuthTimeout } from './auth.js';
import { systemClock } from './clock.js';
import { ClientConnection, ConnectionRegistry } from './connections.js';
import { AgentError } from './errors.js';
import { Delivery } from './delivery/service.js';
import { registerDeliveryMetrics } from './delivery/metrics.js';
import { DeliveryError } from './delivery/errors.js';
import type { Published, PublishOptions } from './delivery/publisher.js';
import { createHttpHandler } from './http.js';
import { MemoryMembership } from './membership/memory.js';
import { NatsMembership } from './membership/nats.js';
import { FledNodes } from './liveness.js';
import { AgentMetrics } from './metrics.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { Pacer } from './pacer.js';
import { planMoves, planReturns, targetOf } from './planner.js';
import { setupServer, type ServerSetup } from './server.js';
import { TopologyTracker, buildRing, topologyNodes, type SettledMembers } from './topology.js';
import { moveFrameText } from './topology-json.js';
import { Transport, closeWith } from './transport.js';
import type {
  Agent,
  AgentOptions,
  AgentState,
  AgentTopology,
  HealthReport,
  Logger,
  MemberRecord,
  MemberState,
  Membership,
  MembershipEvent,
  StoredTopology,
} from './types.js';

const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** How many nodes of a preference list the agent looks at (failover and spill-over depth). */
const prefsDepth = (o: ResolvedOptions) => o.maxUnreachable + 1;

class WsringAgent extends EventEmitter implements Agent {
  readonly id: string;
  url = '';
  readonly weight: number;
  state: AgentState = 'starting';
  topology!: AgentTopology;

  private readonly o: ResolvedOptions;
  private readonly logger: Logger;
  private readonly metrics: AgentMetrics;
  private readonly registry: ConnectionRegistry;
  private readonly tracker: TopologyTracker;
  private readonly pacer: Pacer;
  private readonly transport: Transport;
  /** Nodes the stand-ins here fled, to send them back when such a node restarts without leaving the ring. */
  private readonly fledNodes: FledNodes;
  private membership!: Membership;
  /** Per-user message log, replay and live path; undefined without a NATS connection or with `delivery: false`. */
  private delivery: Delivery | undefined;
  private ownsMembership = false;
  private stopWatch: (() => void) | undefined;
  private server!: ServerSetup;
  private readonly record: MemberRecord;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private heartbeatFailing = false;
  private duplicateReported = false;
  private membershipConnected = true;
  /** Highest epoch announced in membership, applied here or not. */
  private knownEpoch = 0;
  /** Whether the current epoch is the fleet's label (false while labelled locally during an outage). */
  private epochConfirmed = true;
  /** Topology changes are applied one at a time, in order. */
  private applying: Promise<void> = Promise.resolve();
  private rebalanceStartedAt: number | undefined;
  private rebalanceSent = 0;
  private firstTopology!: () => void;
  readonly handleHttp: (req: IncomingMessage, res: ServerResponse) => boolean;

  constructor(private readonly options: AgentOptions, emptyRing: Ring, index: Awaited<ReturnType<typeof createKeyIndex>>) {
    super();
    this.o = resolveOptions(options);
    this.id = this.o.id;
    this.weight = this.o.weight;
    this.logger = options.logger ?? silentLogger;
    this.metrics = new AgentMetrics(this.id);
    this.registry = new ConnectionRegistry(index);
    this.topology = { epoch: 0, fingerprint: emptyRing.fingerprint, ring: emptyRing, nodes: [] };
    this.record = { id: this.id, url: '', weight: this.weight, state: 'joining', startedAt: Date.now(), seq: 0 };
    this.tracker = new TopologyTracker(
      { settleMs: this.o.settleMs, livenessTimeoutMs: this.o.livenessTimeoutMs, heartbeatMs: this.o.heartbeatMs, clock: systemClock },
      (s) => this.onSettled(s),
      (members) => this.onMembersChanged(members),
    );
    this.fledNodes = new FledNodes(() => systemClock.now(), this.o.restartWindowMs);
    this.pacer = new Pacer({ ...this.o.pacing, clock: systemClock }, (userId) => this.sendReconnect(userId));
    this.transport = new Transport(
      {
        authenticate: withAuthTimeout(options.authenticate ?? trustUserParam, this.o.authTimeoutMs),
        messageRate: this.o.messageRate,
        maxUnreachable: this.o.maxUnreachable,
        logger: this.logger,
        metrics: this.metrics,
      },
      {
        admit: (socket, userId, params) => this.admit(socket, userId, params),
        message: (conn, data) => options.onMessage?.(conn.userId, data, conn),
        resume: (conn, last) => this.delivery?.feed.resume(conn, last),
        closed: (conn, code) => this.onClosed(conn, code),
      },
    );
    this.handleHttp = createHttpHandler({
      prefix: this.o.httpPrefix,
      topology: () => this.topology,
      health: () => this.health(),
      unhealthy: () => this.state !== 'serving' || this.registry.size >= this.o.capacity,
      metrics: this.metrics,
    });
  }

  get connections(): number {
    return this.registry.size;
  }

  get port(): number | undefined {
    return this.server?.port;
  }

  async start(): Promise<void> {
    this.server = await setupServer({
      server: this.options.server,
      port: this.o.port,
      host: this.o.host,
      backlog: this.o.listenBacklog,
      path: this.o.path,
      maxPayload: this.o.maxPayload,
      serveHttp: this.o.serveHttp,
      onSocket: (socket, req) => this.transport.handle(socket, req),
      handleHttp: this.handleHttp,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      this.url = this.options.url ?? this.defaultUrl();
      this.record.url = this.url;
      if (this.options.membership) this.membership = this.options.membership;
      else if (this.options.nats) {
        this.membership = await NatsMembership.connect({ ...this.options.nats, logger: this.logger });
        this.ownsMembership = true;
      } else throw new AgentError('NO_MEMBERSHIP', 'createAgent needs `nats` or `membership`');
      if (this.options.delivery !== false && this.membership instanceof NatsMembership) {
        this.delivery = await Delivery.start(this.membership.nc, this.options.delivery, this.logger);
        registerDeliveryMetrics(this.metrics.registry, this.delivery);
      }
      const ready = new Promise<void>((resolve) => (this.firstTopology = resolve));
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new AgentError('MEMBERSHIP_UNAVAILABLE', `no topology from membership within ${this.o.startTimeoutMs} ms`)),
          this.o.startTimeoutMs,
        );
      });
      await Promise.race([
        (async () => {
          await this.membership.put(this.record);
          this.stopWatch = await this.membership.watch((e) => this.onMembershipEvent(e));
          await ready;
        })(),
        timeout,
      ]);
    } catch (err) {
      this.state = 'closed';
      this.tracker.stop();
      this.stopWatch?.();
      await this.delivery?.close();
      await this.server.close();
      if (this.ownsMembership) await this.membership.close().catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.state = 'serving';
    this.scheduleHeartbeat();
    this.logger.info({ node: this.id, url: this.url, port: this.port, epoch: this.topology.epoch }, 'agent serving');
  }

  private defaultUrl(): string {
    if (this.server.port === undefined) throw new AgentError('INVALID_OPTION', '`url` is required when attaching to an existing server');
    const host = this.o.host === '0.0.0.0' || this.o.host === '::' ? '127.0.0.1' : this.o.host;
    return `ws://${host}:${this.server.port}${this.o.path}`;
  }

  // ---- membership ----

  private onMembershipEvent(e: MembershipEvent): void {
    if (e.type === 'topology') this.onStoredTopology(e.stored);
    if (e.type === 'put' && e.record.id === this.id && (e.record.startedAt !== this.record.startedAt || e.record.url !== this.record.url)) {
      // Two processes heartbeating one record make the fleet flap between their URLs.
      if (!this.duplicateReported) this.logger.error({ node: this.id, other: e.record.url, startedAt: e.record.startedAt }, 'another agent uses this node id');
      this.duplicateReported = true;
    }
    if (e.type === 'disconnected' || e.type === 'reconnected') {
      this.membershipConnected = e.type === 'reconnected';
      this.logger.warn({ node: this.id }, e.type === 'reconnected' ? 'membership store back, resynced' : 'membership store lost, keeping the last topology');
      this.emit('membership', { connected: this.membershipConnected });
      if (e.type === 'reconnected') {
        void this.heartbeat();
        this.reconfirmEpoch();
      }
    }
    this.tracker.handle(e);
    if (e.type === 'put' && e.record.id !== this.id) this.returnStandIns(e.record);
  }

  /**
   * A record of a node that stand-ins here fled may show it back (another process serving, see
   * `FledNodes`): it restarted before the fleet timed it out, so the ring did not change and no plan
   * will send them back. They stop avoiding it, and those it owns go back to it through the pacer, like
   * any move.
   */
  private returnStandIns(record: MemberRecord): void {
    const back = this.fledNodes.observe(record);
    if (back.length === 0 || this.state === 'closed') return;
    for (const userId of back) this.registry.standIns.get(userId)?.delete(record.id);
    const t = this.topology;
    const moves = planReturns(t.ring, this.id, back, this.registry.standIns, prefsDepth(this.o));
    this.logger.info({ node: this.id, restarted: record.id, startedAt: record.startedAt, waiting: back.length, moved: moves.length }, 'stand-ins return to a restarted node');
    if (moves.length === 0) return;
    this.metrics.usersMoved.inc(moves.length);
    this.rebalanceStartedAt ??= performance.now();
    for (const m of moves) this.pacer.enqueue(m.userId);
    this.pacer.whenIdle(() => this.rebalanceDone(t.epoch));
  }

  private onStoredTopology(stored: StoredTopology): void {
    this.knownEpoch = Math.max(this.knownEpoch, stored.epoch);
    // Another agent settled on the same ring and labelled it later: adopt its label.
    if (stored.fingerprint === this.topology.fingerprint && stored.epoch > this.topology.epoch) {
      this.topology = { ...this.topology, epoch: stored.epoch };
      this.metrics.epoch.set(stored.epoch);
      this.emit('topology', this.topology);
    }
  }

  private onMembersChanged(members: MemberRecord[]): void {
    if (!this.tracker.isSynced) return;
    this.topology = { ...this.topology, nodes: topologyNodes(members) };
  }

  private onSettled(s: SettledMembers): void {
    this.applying = this.applying
      .then(() => this.applySettled(s))
      .catch((err) => this.logger.error({ err: String(err) }, 'applying topology failed'));
  }

  private async applySettled(s: SettledMembers): Promise<void> {
    const ring = await buildRing(s.members, this.options.ring);
    const { epoch, confirmed } = await this.agreeEpoch(ring.fingerprint);
    if (this.state === 'closed') return;
    this.epochConfirmed = confirmed;
    const prev = this.topology.ring;
    const started = performance.now();
    const plan = planMoves({ self: this.id, prev, next: ring, index: this.registry.index, standIns: this.registry.standIns }, prefsDepth(this.o));
    const planMs = performance.now() - started;
    this.topology = { epoch, fingerprint: ring.fingerprint, ring, nodes: topologyNodes(this.tracker.members) };
    this.metrics.epoch.set(epoch);
    this.metrics.planDuration.observe(planMs / 1000);
    for (const userId of plan.promoted) {
      this.registry.promote(userId);
      this.fledNodes.forget(userId);
    }
    this.logger.info({ node: this.id, epoch, fingerprint: ring.fingerprint, nodes: ring.nodes.length, moved: plan.moves.length, planMs }, 'topology applied');
    this.emit('topology', this.topology);
    this.firstTopology?.();
    if (this.record.state === 'joining' && ring.nodes.some((n) => n.id === this.id)) {
      this.record.state = 'active';
      void this.heartbeat();
    }
    if (plan.moves.length > 0) {
      this.metrics.usersMoved.inc(plan.moves.length);
      this.rebalanceStartedAt ??= performance.now();
      for (const m of plan.moves) this.pacer.enqueue(m.userId);
      this.pacer.whenIdle(() => this.rebalanceDone(epoch));
    }
    this.emit('rebalance', { epoch, fingerprint: ring.fingerprint, moved: plan.moves.length, planMs });
  }

  /**
   * The fleet-wide epoch for a ring: the stored label if it already names this fingerprint, else the
   * stored epoch + 1 written by compare-and-set. A lost race means another agent labelled first; the
   * loop then reads its label. Without the store (or if it does not answer in time: a rebalance must
   * not wait on an outage) the agent labels locally and agrees with the fleet once the store is back.
   */
  private async agreeEpoch(fingerprint: string): Promise<{ epoch: number; confirmed: boolean }> {
    const agree = async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const current = await this.membership.readTopology();
        if (current) this.onStoredTopology(current.stored);
        if (current && current.stored.fingerprint === fingerprint) return current.stored.epoch;
        const next = Math.max(current?.stored.epoch ?? 0, this.topology.epoch) + 1;
        if (await this.membership.casTopology({ epoch: next, fingerprint }, current?.revision ?? 0)) {
          this.knownEpoch = Math.max(this.knownEpoch, next);
          return next;
        }
      }
      throw new Error('compare-and-set kept losing');
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('membership store did not answer')), this.o.livenessTimeoutMs);
      });
      return { epoch: await Promise.race([agree(), timeout]), confirmed: true };
    } catch (err) {
      this.logger.warn({ err: String(err) }, 'cannot agree the epoch with the fleet, labelling locally');
      return { epoch: Math.max(this.knownEpoch, this.topology.epoch) + 1, confirmed: false };
    } finally {
      clearTimeout(timer);
    }
  }

  /** After a local label: ask the fleet again, without replanning (the ring is unchanged). */
  private reconfirmEpoch(): void {
    this.applying = this.applying.then(async () => {
      if (this.epochConfirmed) return;
      const { epoch, confirmed } = await this.agreeEpoch(this.topology.fingerprint);
      if (!confirmed) return;
      this.epochConfirmed = true;
      this.topology = { ...this.topology, epoch };
      this.metrics.epoch.set(epoch);
      this.emit('topology', this.topology);
    });
  }

  /** Heartbeats go out on a fixed interval and do not wait for each other: a put stuck in a NATS outage must not delay the next. */
  private scheduleHeartbeat(): void {
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.o.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private async heartbeat(): Promise<void> {
    if (this.state === 'closed') return;
    this.record.seq++;
    try {
      await this.membership.put(this.record);
      if (this.heartbeatFailing) this.logger.info({ node: this.id }, 'heartbeat restored');
      this.heartbeatFailing = false;
    } catch (err) {
      if (!this.heartbeatFailing) this.logger.warn({ node: this.id, err: String(err) }, 'heartbeat failed');
      this.heartbeatFailing = true;
    }
  }

  // ---- connections ----

  private admit(socket: WebSocket, userId: string, params: ConnectParams): ClientConnection | undefined {
    if (this.state === 'closed' || this.state === 'starting') {
      closeWith(socket, CloseCode.GOING_AWAY, 'not serving', this.metrics);
      return undefined;
    }
    const t = this.topology;
    const decision = decideAdmission({
      self: this.id,
      draining: this.state === 'draining',
      ring: t.ring,
      epoch: t.epoch,
      knownEpoch: this.knownEpoch,
      userId,
      clientEpoch: params.epoch,
      unreachable: params.unreachable ?? [],
      alreadyHere: this.registry.get(userId) !== undefined,
      full: this.registry.size >= this.o.capacity,
      maxPrefs: prefsDepth(this.o),
    });
    if (decision.kind === 'refuse') {
      closeWith(socket, decision.code, decision.reason, this.metrics);
      return undefined;
    }
    if (decision.kind === 'redirect') {
      const url = this.urlOf(decision.to);
      this.metrics.redirects.inc({ reason: decision.reason });
      if (socket.readyState === socket.OPEN) {
        socket.send(moveFrameText({ type: 'redirect', node: decision.to, url, epoch: t.epoch, fingerprint: t.fingerprint, reason: decision.reason }, t, params.epoch));
      }
      closeWith(socket, decision.code, decision.reason);
      return undefined;
    }
    const conn = new ClientConnection(userId, socket, decision.standIn, Date.now());
    // The welcome names t.epoch, and a client behind it refreshes its topology.
    conn.knownEpoch = Math.max(params.epoch ?? 0, t.epoch);
    const replaced = this.registry.add(conn, decision.avoid);
    if (decision.standIn) this.fledNodes.hold(userId, decision.avoid);
    else this.fledNodes.forget(userId);
    if (replaced) {
      this.clearGrace(replaced);
      closeWith(replaced.socket, CloseCode.REPLACED, 'replaced by a newer connection', this.metrics);
    }
    this.pacer.cancel(userId);
    this.metrics.connections.set(this.registry.size);
    conn.sendFrame({ type: 'welcome', node: this.id, epoch: t.epoch, fingerprint: t.fingerprint, standIn: decision.standIn });
    // After the welcome: replay what the client is missing since `last`, then its live messages.
    this.delivery?.feed.attach(conn, params.last);
    this.emit('connection', conn);
    return conn;
  }

  private onClosed(conn: ClientConnection, code: number): void {
    this.clearGrace(conn);
    this.delivery?.feed.detach(conn);
    if (!this.registry.remove(conn)) return;
    this.fledNodes.forget(conn.userId);
    this.pacer.cancel(conn.userId);
    this.metrics.connections.set(this.registry.size);
    this.emit('disconnection', { userId: conn.userId, code });
    if (this.registry.size === 0) this.emit('empty');
  }

  private urlOf(nodeId: string): string {
    const node = this.topology.ring.nodes.find((n) => n.id === nodeId);
    return node?.meta?.url ?? this.tracker.table.get(nodeId)?.url ?? '';
  }

  /** Called by the pacer when a user's turn comes: the target is decided now, under the latest ring. */
  private sendReconnect(userId: string): void {
    const conn = this.registry.get(userId);
    if (!conn) return;
    const t = this.topology;
    const to = targetOf(t.ring, this.id, userId, this.registry.standIns.get(userId), prefsDepth(this.o));
    if (to === undefined) return;
    const url = this.urlOf(to);
    const frame = { type: 'reconnect', node: to, url, epoch: t.epoch, fingerprint: t.fingerprint, graceMs: this.o.pacing.graceMs } as const;
    if (!conn.sendText(moveFrameText(frame, t, conn.knownEpoch))) return;
    conn.knownEpoch = Math.max(conn.knownEpoch, t.epoch);
    this.metrics.reconnectsSent.inc();
    this.rebalanceSent++;
    this.clearGrace(conn);
    conn.graceTimer = setTimeout(() => {
      conn.graceTimer = undefined;
      // A client that has begun the close handshake has left; its socket's close event just has not come yet.
      if (conn.socket.readyState !== conn.socket.OPEN) return;
      this.metrics.graceCloses.inc();
      closeWith(conn.socket, CloseCode.MOVED, `moved to ${to}`, this.metrics);
    }, this.o.pacing.graceMs);
    conn.graceTimer.unref();
  }

  private clearGrace(conn: ClientConnection): void {
    if (conn.graceTimer !== undefined) clearTimeout(conn.graceTimer);
    conn.graceTimer = undefined;
  }

  private rebalanceDone(epoch: number): void {
    if (this.rebalanceStartedAt === undefined) return;
    const durationMs = performance.now() - this.rebalanceStartedAt;
    this.metrics.rebalanceDuration.observe(durationMs / 1000);
    this.emit('rebalance-sent', { epoch, sent: this.rebalanceSent, durationMs });
    this.rebalanceStartedAt = undefined;
    this.rebalanceSent = 0;
  }

  // ---- public ----

  publish(userId: string, data: unknown, options?: PublishOptions): Promise<Published> {
    if (!this.delivery) return Promise.reject(new DeliveryError('NO_STORE', 'delivery needs a NATS connection (the `nats` option) and `delivery` not false'));
    return this.delivery.publisher.publish(userId, data, options);
  }

  sendTo(userId: string, data: unknown): boolean {
    return this.registry.get(userId)?.send(data) ?? false;
  }

  connection(userId: string): ClientConnection | undefined {
    return this.registry.get(userId);
  }

  health(): HealthReport {
    return {
      id: this.id,
      state: this.state,
      connections: this.registry.size,
      capacity: this.o.capacity,
      epoch: this.topology.epoch,
      membershipConnected: this.membershipConnected,
    };
  }

  async drain(options: { deadlineMs?: number } = {}): Promise<{ remaining: number }> {
    if (this.state === 'closed') throw new AgentError('CLOSED', 'agent is closed');
    const deadlineMs = options.deadlineMs ?? this.o.drainDeadlineMs;
    if (this.state !== 'draining') {
      this.state = 'draining';
      this.record.state = 'draining' satisfies MemberState;
      this.logger.info({ node: this.id, connections: this.registry.size, deadlineMs }, 'draining');
      await this.heartbeat();
    }
    if (this.registry.size > 0) await this.untilEmpty(deadlineMs);
    const remaining = this.registry.size;
    this.logger.info({ node: this.id, remaining }, 'drain finished');
    await this.close();
    return { remaining };
  }

  /** Resolves when the last connection is gone, the deadline passes, or the agent closes. */
  private untilEmpty(deadlineMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.off('empty', done);
        this.off('closing', done);
        resolve();
      };
      const timer = setTimeout(done, deadlineMs);
      this.on('empty', done);
      this.on('closing', done);
    });
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.emit('closing');
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.tracker.stop();
    this.pacer.stop();
    this.stopWatch?.();
    for (const conn of [...this.registry.all()]) {
      this.clearGrace(conn);
      closeWith(conn.socket, CloseCode.GOING_AWAY, 'node shutting down', this.metrics);
    }
    await this.delivery?.close();
    await this.membership.remove(this.id).catch((err) => this.logger.warn({ err: String(err) }, 'deregistration failed'));
    if (this.ownsMembership) await this.membership.close().catch(() => {});
    await this.server.close();
    this.logger.info({ node: this.id }, 'agent closed');
  }
}

/** Start an agent: bind or attach, register in membership, wait for the first topology. */
export async function createAgent(options: AgentOptions): Promise<Agent> {
  resolveOptions(options);
  if (!options.nats && !options.membership) throw new AgentError('NO_MEMBERSHIP', 'createAgent needs `nats` or `membership`');
  const [ring, index] = await Promise.all([createRing([], options.ring), createKeyIndex(undefined, { seed: options.ring?.seed ?? 0 })]);
  const agent = new WsringAgent(options, ring, index);
  await agent.start();
  return agent;
}


