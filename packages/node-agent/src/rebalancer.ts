import type { Ring, RingOptions } from '@wsring/ring';
import { CloseCode } from '@wsring/protocol';
import type { Clock } from './clock.js';
import type { ClientConnection, ConnectionRegistry } from './connections.js';
import type { EpochAgreement } from './epoch.js';
import type { FledNodes } from './liveness.js';
import type { AgentMetrics } from './metrics.js';
import { Pacer } from './pacer.js';
import { planMoves, planReturns, targetOf, type Move } from './planner.js';
import { fallbackShare, receiverShares } from './receiver-budgets.js';
import { buildRing, topologyNodes, type SettledMembers } from './topology.js';
import { moveFrameText } from './topology-json.js';
import type { TopologySigner } from './topology-signer.js';
import { closeWith } from './transport.js';
import type { AgentTopology, Logger, MemberRecord, PacingOptions, RebalanceEvent, StoredTopology } from './types.js';

export interface RebalancerOptions {
  self: string;
  pacing: Required<PacingOptions>;
  /** Stand-ins go back to an owner serving this long, with room, once they have been here this long (doubling per bounce). */
  convergeAfterMs: number;
  /** A receiver's accept rate when its record does not say (records of older agents). */
  defaultAcceptRate: number;
  /** How many nodes of a preference list count for failover and spill-over. */
  prefsDepth: number;
  ring: RingOptions | undefined;
  clock: Clock;
  logger: Logger;
  metrics: AgentMetrics;
  /** Uniform in [0, 1): the pacer's jitter. */
  random?: () => number;
  /** The planner. Default `planMoves`; the fleet model passes a checked or deliberately broken one. */
  plan?: typeof planMoves;
  /** Signs the topologies inlined in reconnect frames (topology-signer.ts); none: they go unsigned. */
  signer?: TopologySigner;
}

export interface RebalancerParts {
  registry: ConnectionRegistry;
  epochs: EpochAgreement;
  /** Nodes the stand-ins here fled (see `FledNodes`). */
  fled: FledNodes;
  /** A node's advertised URL from the live member records, for nodes not (or no longer) in the ring. */
  urlOfMember(nodeId: string): string | undefined;
  /** A node's latest member record (accept rate, load), if it is a live member. */
  recordOf(nodeId: string): MemberRecord | undefined;
}

export interface RebalancerListener {
  /** The served topology changed (new ring, new label, or member records). */
  topology(t: AgentTopology): void;
  /** A settled member set was applied: its plan is queued. */
  rebalance(e: RebalanceEvent): void;
  /** Every reconnect frame queued so far has gone out. */
  sent(e: { epoch: number; sent: number; durationMs: number }): void;
}

/**
 * Turns settled member sets into moves: builds the ring, agrees its epoch with the fleet, plans exactly the
 * local users whose node changed (each with its target), and sends each a targeted reconnect through the
 * pacer, closing with MOVED whoever ignores it past the grace period. Also sends stand-ins back to a node
 * that restarted without leaving the ring. Settled sets are applied one at a time, in order.
 */
export class Rebalancer {
  private current: AgentTopology;
  private readonly pacer: Pacer;
  /**
   * This sender's fraction of each receiver's budget under the latest change (`receiverShares` at rate 1): its
   * share is that times what the receiver declares now, so a warming receiver's rising rate re-rates the lane.
   */
  private fractions = new Map<string, number>();
  /** During a handoff: the rate this process sends its users to its successor at (the successor's declared rate). */
  private handoffRate: number | undefined = undefined;
  /** During a handoff: the successor's URL; only a record under this id with it is the successor's. */
  private handoffUrl: string | undefined = undefined;
  /** Each member's declared accept rate when last seen: a change re-rates the lanes. */
  private readonly declared = new Map<string, number>();
  /** The latest member records (for receivers' accept rates). */
  private members: readonly MemberRecord[] = [];
  private readonly graceTimers = new Map<ClientConnection, unknown>();
  private applying: Promise<void> = Promise.resolve();
  private confirmed = true;
  private startedAt: number | undefined;
  private sentCount = 0;
  private stopped = false;
  /** Handing this node's users to its successor: they stay queued for this node whatever later plans say. */
  private handingOff = false;
  /** Users sent back to their owner by `converge`, and how often: each bounce doubles the next wait. */
  private readonly returned = new Map<string, { count: number }>();

  constructor(private readonly o: RebalancerOptions, private readonly parts: RebalancerParts, private readonly listener: RebalancerListener, emptyRing: Ring) {
    this.current = { epoch: 0, fingerprint: emptyRing.fingerprint, ring: emptyRing, nodes: [] };
    this.pacer = new Pacer({ ...o.pacing, clock: o.clock, random: o.random }, (userId, to) => void this.sendReconnect(userId, to), (to) => this.shareOf(to));
  }

  get topology(): AgentTopology {
    return this.current;
  }

  /** Users queued for a reconnect frame. */
  get pending(): number {
    return this.pacer.pending;
  }

  /** Queue a settled member set; resolves once it (and everything queued before it) is applied. */
  settle(s: SettledMembers, members: () => MemberRecord[]): Promise<void> {
    this.applying = this.applying
      .then(() => this.apply(s, members))
      .catch((err) => this.o.logger.error({ err: String(err) }, 'applying topology failed'));
    return this.applying;
  }

  /** Member records changed (states, URLs): the node list clients see follows at once. */
  membersChanged(members: readonly MemberRecord[]): void {
    this.members = members;
    // Clients' topology lists no rates: a record that only says another rate keeps the snapshot (and its signed text).
    const nodes = topologyNodes(members);
    if (JSON.stringify(nodes) !== JSON.stringify(this.current.nodes)) this.publish({ ...this.current, nodes });
    // A receiver declares another rate (it warms up, or was reconfigured): the lanes to it take their new shares.
    let rerate = false;
    const present = new Set<string>();
    for (const m of members) {
      present.add(m.id);
      if (m.acceptRate === undefined) continue;
      rerate ||= this.declared.get(m.id) !== m.acceptRate;
      this.declared.set(m.id, m.acceptRate);
    }
    // A member that left keeps its last rate while lanes to it may still run (it is in the ring until the next one).
    const inRing = new Set(this.current.ring.nodes.map((n) => n.id));
    for (const id of this.declared.keys()) if (!present.has(id) && !inRing.has(id)) this.declared.delete(id);
    const successorRate = this.successorRate(members);
    if (successorRate !== undefined && successorRate !== this.handoffRate) {
      this.handoffRate = successorRate;
      rerate = true;
    }
    if (rerate) this.pacer.rerate();
  }

  /** A label seen in the store: another agent settled on the same ring and labelled it later, so adopt its label. */
  storedTopology(stored: StoredTopology): void {
    this.parts.epochs.observe(stored);
    if (stored.fingerprint === this.current.fingerprint && stored.epoch > this.current.epoch) this.publish({ ...this.current, epoch: stored.epoch });
  }

  /** After labelling locally during an outage: ask the fleet again, without replanning (the ring is unchanged). */
  reconfirm(): Promise<void> {
    this.applying = this.applying.then(async () => {
      if (this.confirmed || this.stopped) return;
      const { epoch, confirmed } = await this.parts.epochs.agree(this.current.fingerprint, this.current);
      if (!confirmed || this.stopped) return;
      this.confirmed = true;
      this.publish({ ...this.current, epoch });
    });
    return this.applying;
  }

  /**
   * A member record arrived: if it shows a node that stand-ins here fled serving again (a restart within the
   * liveness timeout, see `FledNodes`), those it owns go back to it, paced like any move.
   */
  memberSeen(record: MemberRecord): void {
    if (this.stopped || record.id === this.o.self) return;
    const back = this.parts.fled.observe(record);
    if (back.length === 0) return;
    const { registry } = this.parts;
    for (const userId of back) registry.standIns.get(userId)?.delete(record.id);
    const t = this.current;
    const moves = planReturns(t.ring, this.o.self, back, registry.standIns, this.o.prefsDepth);
    this.o.logger.info({ restarted: record.id, startedAt: record.startedAt, waiting: back.length, moved: moves.length }, 'stand-ins return to a restarted node');
    this.queue(moves, t.epoch);
  }

  /**
   * Convergence: stand-ins whose owner is in the ring, has served for `convergeAfterMs`, has room (below 90% of its
   * capacity, so a node at the spill-over threshold does not take users back only to spill the next ones), and who
   * have been here `convergeAfterMs` x 2^(times sent back before, at most 5) go back to it through the pacer, at
   * the owner's budget. A user that cannot reach its owner and fails over again waits twice as long next time:
   * no ping-pong. Run periodically by the agent.
   */
  converge(): number {
    if (this.stopped) return 0;
    const t = this.current;
    if (t.ring.nodes.length === 0) return 0;
    const now = this.o.clock.now();
    const { registry, fled } = this.parts;
    const back: string[] = [];
    for (const [userId, avoid] of registry.standIns) {
      if (this.pacer.targetOf(userId) !== undefined) continue;
      const owner = t.ring.owner(userId);
      if (owner === this.o.self || !avoid.has(owner)) continue;
      const conn = registry.get(userId);
      const bounces = Math.min(5, this.returned.get(userId)?.count ?? 0);
      const since = Math.max(fled.servingSince(owner) ?? Infinity, conn?.connectedAt ?? now);
      if (now - since < this.o.convergeAfterMs * 2 ** bounces || !this.hasRoom(owner)) continue;
      avoid.delete(owner);
      back.push(userId);
    }
    const moves = planReturns(t.ring, this.o.self, back, registry.standIns, this.o.prefsDepth);
    for (const m of moves) {
      const seen = this.returned.get(m.userId);
      this.returned.delete(m.userId);
      this.returned.set(m.userId, { count: (seen?.count ?? 0) + 1 });
    }
    // Bounded memory: the oldest entries go first (Map keeps insertion order).
    for (const key of this.returned.keys()) {
      if (this.returned.size <= 100_000) break;
      this.returned.delete(key);
    }
    if (moves.length > 0) this.o.logger.info({ moved: moves.length }, 'stand-ins return to their owners');
    this.queue(moves, t.epoch);
    return moves.length;
  }

  private hasRoom(nodeId: string): boolean {
    const record = this.parts.recordOf(nodeId);
    if (!record || record.state !== 'active') return false;
    if (record.capacity === undefined || record.connections === undefined) return true;
    return record.connections < record.capacity * 0.9;
  }

  /**
   * The fleet moved on without this node while it was cut off from the store (a peer serves a newer ring without
   * it): serve that ring under the fleet's epoch, so this node's users move, paced, to where the fleet now places
   * them: once. The store, once back, settles everything as usual.
   */
  adopt(ring: Ring, epoch: number): Promise<void> {
    this.applying = this.applying
      .then(async () => {
        if (this.stopped || epoch <= this.current.epoch || ring.nodes.some((n) => n.id === this.o.self) || ring.nodes.length === 0) return;
        const { registry } = this.parts;
        const plan = (this.o.plan ?? planMoves)({ self: this.o.self, prev: this.current.ring, next: ring, index: registry.index, standIns: registry.standIns }, this.o.prefsDepth);
        this.fractions = receiverShares(this.current.ring, ring, this.o.self, () => 1);
        this.pacer.rerate();
        this.confirmed = false;
        this.publish({ epoch, fingerprint: ring.fingerprint, ring, nodes: this.current.nodes });
        this.o.logger.warn({ epoch, nodes: ring.nodes.length, moved: plan.moves.length }, 'cut off from the store while the fleet serves a ring without this node: its users move there');
        this.queue(plan.moves, epoch);
        this.listener.rebalance({ epoch, fingerprint: ring.fingerprint, moved: plan.moves.length, planMs: 0 });
      })
      .catch((err) => this.o.logger.error({ err: String(err) }, 'adopting the fleet topology failed'));
    return this.applying;
  }

  /** A user left or reconnected here on its own: nothing more to send it. */
  forget(conn: ClientConnection): void {
    this.clearGrace(conn);
    this.cancel(conn.userId);
  }

  /** The user is no longer to be moved (it is here anew). */
  cancel(userId: string): void {
    this.pacer.cancel(userId);
  }

  /** Moves still queued, per receiver, with this sender's rate to each. */
  get lanes(): { to: string; queued: number; ratePerSec: number }[] {
    return this.pacer.lanesSnapshot();
  }

  /**
   * How long the queued moves take at the receivers' budgets and this sender's ceiling, ms: the slowest lane, or
   * the whole queue at the ceiling, whichever is longer (jitter aside).
   */
  estimateMs(): number {
    const lanes = this.pacer.lanesSnapshot();
    const total = lanes.reduce((n, l) => n + l.queued, 0);
    return Math.max((total / this.o.pacing.ratePerSec) * 1000, ...lanes.map((l) => (l.queued / l.ratePerSec) * 1000));
  }

  /**
   * Handoff deploy: every user here goes to this same node at its successor's URL (the ring's, once it names the
   * successor), paced at the successor's accept rate: the only sender to it. Later plans leave them queued.
   * A stand-in whose owner is in the ring with room goes home instead: sent to the successor it would stay a
   * stand-in there and move a second time when it converges.
   */
  handoff(userIds: readonly string[], acceptRate: number, successorUrl: string): void {
    this.handingOff = true;
    this.handoffUrl = successorUrl;
    // What the successor declares now, if its record under this id has come; else what it declared when it waited.
    this.handoffRate = this.successorRate(this.members) ?? acceptRate;
    this.pacer.rerate();
    this.queue(userIds.map((userId) => ({ userId, to: this.handoffTarget(userId) })), this.current.epoch);
  }

  /** Where a handoff sends a user: its owner, for a stand-in whose owner can take it now; else this node's successor. */
  private handoffTarget(userId: string): string {
    const avoid = this.parts.registry.standIns.get(userId);
    if (avoid === undefined || this.current.ring.nodes.length === 0) return this.o.self;
    const owner = this.current.ring.owner(userId);
    if (owner === this.o.self || !this.hasRoom(owner)) return this.o.self;
    // No longer avoided: a later plan re-targets it to its owner rather than cancelling it (see `apply`).
    avoid.delete(owner);
    return owner;
  }

  /**
   * A drain's deadline came with users still queued: rather than closing them all at once (a crowd at the
   * receivers), each gets its reconnect frame now with a delay, its slot in its receiver's lane at this sender's
   * share, so they still arrive within the receivers' accept rates. Returns how many and the longest delay.
   */
  spreadRemainder(): { users: number; spreadMs: number } {
    let spreadMs = 0;
    let users = 0;
    for (const { userId, to, slotMs } of this.pacer.takeAll()) {
      if (this.sendReconnect(userId, to, { delayMs: slotMs, grace: false })) users++;
      spreadMs = Math.max(spreadMs, slotMs);
    }
    return { users, spreadMs };
  }

  stop(): void {
    this.stopped = true;
    this.pacer.stop();
    for (const handle of this.graceTimers.values()) this.o.clock.clearTimeout(handle);
    this.graceTimers.clear();
  }

  private async apply(s: SettledMembers, members: () => MemberRecord[]): Promise<void> {
    const ring = await buildRing(s.members, this.o.ring);
    const { epoch, confirmed } = await this.parts.epochs.agree(ring.fingerprint, this.current);
    if (this.stopped) return;
    this.confirmed = confirmed;
    const { registry, fled } = this.parts;
    const prev = this.current.ring;
    // Compute time, not flow time: measured on the process's own clock.
    const started = performance.now();
    const plan = (this.o.plan ?? planMoves)({ self: this.o.self, prev, next: ring, index: registry.index, standIns: registry.standIns }, this.o.prefsDepth);
    const planMs = performance.now() - started;
    this.o.metrics.planDuration.observe(planMs / 1000);
    for (const userId of plan.promoted) {
      registry.promote(userId);
      fled.forget(userId);
    }
    // Users still queued from an earlier plan go where this ring says (or stay, if it gave them back).
    for (const userId of this.queuedUsers()) {
      if (this.handingOff && this.pacer.targetOf(userId) === this.o.self) continue;
      const to = targetOf(ring, this.o.self, userId, registry.standIns.get(userId), this.o.prefsDepth);
      if (to === undefined) this.cancel(userId);
      else this.pacer.enqueue(userId, to);
    }
    this.members = members();
    this.fractions = receiverShares(prev, ring, this.o.self, () => 1);
    this.pacer.rerate();
    this.publish({ epoch, fingerprint: ring.fingerprint, ring, nodes: topologyNodes(this.members) });
    this.o.logger.info({ epoch, fingerprint: ring.fingerprint, nodes: ring.nodes.length, moved: plan.moves.length, planMs }, 'topology applied');
    this.queue(plan.moves, epoch);
    this.listener.rebalance({ epoch, fingerprint: ring.fingerprint, moved: plan.moves.length, planMs });
  }

  private publish(t: AgentTopology): void {
    this.current = t;
    this.o.metrics.epoch.set(t.epoch);
    this.listener.topology(t);
  }

  private queue(moves: readonly Move[], epoch: number): void {
    if (moves.length === 0) return;
    this.o.metrics.usersMoved.inc(moves.length);
    this.startedAt ??= this.o.clock.now();
    for (const m of moves) this.pacer.enqueue(m.userId, m.to);
    this.pacer.whenIdle(() => this.done(epoch));
  }

  private urlOf(nodeId: string): string {
    const node = this.current.ring.nodes.find((n) => n.id === nodeId);
    return node?.meta?.url ?? this.parts.urlOfMember(nodeId) ?? '';
  }

  /** This sender's rate to a receiver: its share under the latest change, or the fallback share for moves no diff covers. */
  private shareOf(to: string): number {
    if (to === this.o.self && this.handoffRate !== undefined) return this.handoffRate;
    const fraction = this.fractions.get(to);
    return fraction !== undefined ? fraction * this.acceptRateOf(to) : fallbackShare(this.current.ring, to, this.acceptRateOf(to));
  }

  private acceptRateOf(nodeId: string): number {
    return this.parts.recordOf(nodeId)?.acceptRate ?? this.members.find((m) => m.id === nodeId)?.acceptRate ?? this.declared.get(nodeId) ?? this.o.defaultAcceptRate;
  }

  /** During a handoff: the rate the successor declares in the record under this id, once that record is its own (its URL). */
  private successorRate(members: readonly MemberRecord[]): number | undefined {
    if (!this.handingOff || this.handoffUrl === undefined) return undefined;
    const record = members.find((m) => m.id === this.o.self && m.url === this.handoffUrl);
    return record?.acceptRate;
  }

  private queuedUsers(): string[] {
    return this.pacer.queuedUsers();
  }

  /**
   * The pacer's turn for a user: a reconnect frame to each of its sessions, then each session's grace timer. One
   * turn (one token of the receiver's budget) per user, whatever its sessions: pacing stays O(moved users).
   * Whether a frame went out.
   */
  private sendReconnect(userId: string, to: string, how: { delayMs?: number; grace?: boolean } = {}): boolean {
    const sessions = this.parts.registry.sessionsOf(userId);
    if (sessions.length === 0) return false;
    const t = this.current;
    const delay = how.delayMs ? { delayMs: how.delayMs } : {};
    const frame = { type: 'reconnect', node: to, url: this.urlOf(to), epoch: t.epoch, fingerprint: t.fingerprint, graceMs: this.o.pacing.graceMs, ...delay } as const;
    let sent = 0;
    for (const conn of sessions) {
      // A handoff frame names this very node at another URL: its topology goes along, so the client need not fetch one.
      if (!conn.sendText(moveFrameText(frame, t, to === this.o.self ? undefined : conn.knownEpoch, this.o.signer))) continue;
      conn.knownEpoch = Math.max(conn.knownEpoch, t.epoch);
      sent++;
      if (how.grace !== false) this.startGrace(conn, to);
    }
    if (sent === 0) return false;
    this.o.metrics.reconnectsSent.inc();
    this.o.metrics.sessionsMoved.inc(sent);
    this.sentCount++;
    return true;
  }

  private startGrace(conn: ClientConnection, to: string): void {
    this.clearGrace(conn);
    this.graceTimers.set(
      conn,
      this.o.clock.setTimeout(() => {
        this.graceTimers.delete(conn);
        // A client that has begun the close handshake has left; its socket's close event just has not come yet.
        if (conn.socket.readyState !== conn.socket.OPEN) return;
        this.o.metrics.graceCloses.inc();
        closeWith(conn.socket, CloseCode.MOVED, `moved to ${to}`, this.o.metrics);
      }, this.o.pacing.graceMs),
    );
  }

  clearGrace(conn: ClientConnection): void {
    const handle = this.graceTimers.get(conn);
    if (handle === undefined) return;
    this.o.clock.clearTimeout(handle);
    this.graceTimers.delete(conn);
  }

  private done(epoch: number): void {
    if (this.startedAt === undefined) return;
    const durationMs = this.o.clock.now() - this.startedAt;
    this.o.metrics.rebalanceDuration.observe(durationMs / 1000);
    this.listener.sent({ epoch, sent: this.sentCount, durationMs });
    this.startedAt = undefined;
    this.sentCount = 0;
  }
}
