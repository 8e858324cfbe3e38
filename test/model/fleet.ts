// A fleet of agents on simulated time, each built from the agent's own modules exactly as agent.ts wires them:
// Registration (record, heartbeats), TopologyTracker (liveness, settle window), EpochAgreement (the fleet's
// epoch by compare-and-set), Rebalancer (ring, plan, pacer, reconnect frames, grace timers, stand-ins going
// back to a restarted node) and Admitter (who connects where), over one shared MemoryMembership, each agent
// on its own view of one ManualClock. What is simulated: each agent's line to the store (delivery latency,
// a lost heartbeat, a crashed process), the sockets (a fake that records the frames the agent sends), and
// the clients, which follow those frames. Every plan, every reconnect frame, every epoch and every settled
// state is checked as it happens; breaches are collected in `violations`.
import { createKeyIndex, createRing, type KeyIndex, type Ring, type RingOptions } from '@wsring/ring';
import { DEFAULTS, MemoryMembership, type AgentTopology, type Clock, type Logger, type MemberRecord, type Membership, type MembershipEvent, type StoredTopology } from '@wsring/node-agent';
import {
  Admitter,
  AgentMetrics,
  ConnectionRegistry,
  EpochAgreement,
  FledNodes,
  Rebalancer,
  Registration,
  TopologyTracker,
  placementSignature,
  planMoves,
  type AgreedEpoch,
  type ClientConnection,
  type EpochAgreementOptions,
  type AdmitterParts,
  type Plan,
  type PlanInput,
  type SettledMembers,
} from '@wsring/node-agent/internal';
import { CloseCode } from '@wsring/client';
import { ManualClock } from '../support/manual-clock.js';

export interface FleetConfig {
  heartbeatMs: number;
  livenessTimeoutMs: number;
  settleMs: number;
  pacing: { ratePerSec: number; burst: number; jitterMs: number };
  /** Preference-list depth for failover and stand-ins (the agent uses maxUnreachable + 1). */
  maxPrefs: number;
  ring?: RingOptions;
  /** Seed of the pacers' jitter. */
  seed: number;
  /** The planner the agents' Rebalancers use; a test swaps in a broken one to show the invariants catch it. */
  plan?: (input: PlanInput, maxPrefs: number) => Plan;
  /** Whether stand-ins go back to a node that restarted within the liveness timeout (false: a broken agent that never tells its Rebalancer). */
  returnStandIns?: boolean;
  /** 'local': a broken epoch agreement that labels every ring itself, without asking the store. */
  epochs?: 'agreed' | 'local';
  /** Sessions one user may hold on a node (the agent's maxSessionsPerUser). Default: the agent's default. */
  maxSessionsPerUser?: number;
  /** A broken agent: its limit differs from the one the clients were promised (1: the old one-socket-per-user agent). */
  agentSessionLimit?: number;
}

/** The agent's defaults: the model runs the timing an operator gets out of the box. */
export const DEFAULT_FLEET: Omit<FleetConfig, 'seed'> = {
  heartbeatMs: DEFAULTS.heartbeatMs,
  livenessTimeoutMs: DEFAULTS.livenessTimeoutMs,
  settleMs: DEFAULTS.settleMs,
  pacing: { ratePerSec: DEFAULTS.pacing.ratePerSec, burst: DEFAULTS.pacing.burst, jitterMs: DEFAULTS.pacing.jitterMs },
  maxPrefs: DEFAULTS.maxUnreachable + 1,
};

/** running: serving; draining: moving its users out; crashed: silent, record left behind; left: deregistered. */
export type NodeStatus = 'running' | 'draining' | 'crashed' | 'left';

const silent: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * One agent process's line to the shared store: it can lose the next write (a missed heartbeat) and goes
 * dead when the process crashes (nothing written any more, no event delivered).
 */
class SimLine implements Membership {
  loseNext = false;
  /** The latest write was lost. */
  lastLost = false;
  dead = false;
  constructor(private readonly store: MemoryMembership) {}
  async put(record: MemberRecord): Promise<void> {
    this.alive();
    if (this.loseNext) {
      this.loseNext = false;
      this.lastLost = true;
      return;
    }
    this.lastLost = false;
    await this.store.put(record);
  }
  async remove(id: string): Promise<void> {
    this.alive();
    await this.store.remove(id);
  }
  watch(listener: (e: MembershipEvent) => void): Promise<() => void> {
    return this.store.watch((e) => {
      if (!this.dead) listener(e);
    });
  }
  async readTopology() {
    this.alive();
    return this.store.readTopology();
  }
  async casTopology(next: StoredTopology, revision: number): Promise<boolean> {
    this.alive();
    return this.store.casTopology(next, revision);
  }
  async close(): Promise<void> {}
  private alive(): void {
    if (this.dead) throw new Error('process is gone');
  }
}

/** What the agent sends a client, as far as the model reads it. */
interface Frame {
  type: string;
  node?: string;
  url?: string;
  epoch?: number;
  fingerprint?: string;
  standIn?: boolean;
  session?: string;
  pos?: number;
  prev?: number;
}

/** The socket type the agent's modules take (ws's WebSocket). */
type AgentSocket = Parameters<Admitter['admit']>[0];

/** A client's socket as the agent sees it: it records every frame, and the fleet hears of frames and closes once the client holds it. */
class SimSocket {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  onFrame: ((frame: Frame) => void) | undefined;
  onServerClose: ((code: number) => void) | undefined;

  send(text: string): void {
    if (this.readyState !== this.OPEN) throw new Error('socket not open');
    const frame = JSON.parse(text) as Frame;
    this.frames.push(frame);
    this.onFrame?.(frame);
  }

  /** The agent closes it. */
  close(code: number): void {
    if (this.readyState === this.CLOSED) return;
    this.readyState = this.CLOSED;
    this.closeCode = code;
    this.onServerClose?.(code);
  }

  terminate(): void {
    this.readyState = this.CLOSED;
  }

  /** The client closes it. */
  leave(): void {
    this.readyState = this.CLOSED;
  }
}

/**
 * The agent's EpochAgreement, remembering the labels it made alone while the store was away (to tell them
 * from labels the fleet agreed). With `local` it is broken: every agent labels each new ring one above what it
 * serves, asking nobody.
 */
class ObservedEpochs extends EpochAgreement {
  /** Labels (`fingerprint@epoch`) this agent made alone because the store did not answer. */
  readonly alone = new Set<string>();
  constructor(membership: Membership, options: EpochAgreementOptions, private readonly local: boolean) {
    super(membership, options);
  }
  override async agree(fingerprint: string, serving: { epoch: number; fingerprint: string }): Promise<AgreedEpoch> {
    const agreed = this.local ? { epoch: serving.epoch + 1, confirmed: true } : await super.agree(fingerprint, serving);
    if (agreed.confirmed) this.alone.delete(`${fingerprint}@${agreed.epoch}`);
    else this.alone.add(`${fingerprint}@${agreed.epoch}`);
    return agreed;
  }
}

/** One agent: the agent's modules wired as agent.ts wires them, on one clock view, over one line to the store. */
export class SimNode {
  status: NodeStatus = 'running';
  readonly line: SimLine;
  readonly registration: Registration;
  readonly tracker: TopologyTracker;
  readonly epochs: ObservedEpochs;
  readonly rebalancer: Rebalancer;
  readonly admitter: Admitter;
  readonly registry: ConnectionRegistry;
  readonly fled: FledNodes;
  /** The node's delivery, as far as the agent's admission wires it: attach each session at its own position, detach it. */
  readonly feed: SimFeed;
  /** Membership events sent to this agent and not yet received. */
  inFlight = 0;
  /** Settled sets and reconfirmations handed to the Rebalancer and not yet done. */
  busy = 0;
  /** Placement signature of the member set the Rebalancer last applied. */
  applied: string | undefined;
  /** Users a plan queued and no frame has gone to yet: a frame for anyone else is a stand-in sent back. */
  readonly planned = new Set<string>();
  /** The epoch this agent serves, and the highest one it served that the fleet had agreed. */
  servedEpoch = 0;
  agreedEpoch = 0;
  stopWatch: () => void = () => {};

  constructor(
    private readonly fleet: Fleet,
    readonly id: string,
    /** How late membership events reach this agent. */
    readonly latencyMs: number,
    readonly clock: Clock,
    /** Shared time when this incarnation registered. */
    readonly joinedAt: number,
    emptyRing: Ring,
    index: KeyIndex,
  ) {
    const { config } = fleet;
    const metrics = new AgentMetrics(id);
    this.line = new SimLine(fleet.membership);
    this.registry = new ConnectionRegistry(index);
    this.fled = new FledNodes(() => clock.now(), DEFAULTS.restartWindowMs);
    this.registration = new Registration(this.line, { id, weight: 1, acceptRate: DEFAULTS.acceptRate, heartbeatMs: config.heartbeatMs, clock, logger: silent });
    this.epochs = new ObservedEpochs(this.line, { timeoutMs: config.livenessTimeoutMs, clock, logger: silent }, config.epochs === 'local');
    this.tracker = new TopologyTracker(
      { settleMs: config.settleMs, livenessTimeoutMs: config.livenessTimeoutMs, heartbeatMs: config.heartbeatMs, clock, self: id },
      (s) => this.settle(s),
      (members) => {
        if (this.tracker.isSynced) this.rebalancer.membersChanged(members);
      },
    );
    this.rebalancer = new Rebalancer(
      {
        self: id,
        pacing: { ...config.pacing, graceMs: DEFAULTS.pacing.graceMs },
        defaultAcceptRate: DEFAULTS.acceptRate,
        convergeAfterMs: DEFAULTS.convergeAfterMs,
        prefsDepth: config.maxPrefs,
        ring: config.ring,
        clock,
        logger: silent,
        metrics,
        random: fleet.random,
        plan: (input, maxPrefs) => fleet.planFor(this, input, maxPrefs ?? config.maxPrefs),
      },
      {
        registry: this.registry,
        epochs: this.epochs,
        fled: this.fled,
        urlOfMember: (nodeId) => this.tracker.table.get(nodeId)?.url,
        recordOf: (nodeId) => this.tracker.table.get(nodeId),
      },
      {
        topology: (t) => fleet.servedTopology(this, t),
        rebalance: () => this.onApplied(),
        sent: () => {},
      },
      emptyRing,
    );
    this.feed = new SimFeed(fleet.log);
    let sessions = 0;
    this.admitter = new Admitter(
      { self: id, capacity: DEFAULTS.capacity, maxSessionsPerUser: config.agentSessionLimit ?? config.maxSessionsPerUser ?? DEFAULTS.maxSessionsPerUser, prefsDepth: config.maxPrefs, clock, metrics, newSessionId: () => `${id}-${joinedAt}-${++sessions}` },
      {
        registry: this.registry,
        fled: this.fled,
        serving: () => (this.status === 'running' ? 'serving' : this.status === 'draining' ? 'draining' : 'not-serving'),
        topology: () => this.rebalancer.topology,
        knownEpoch: () => this.epochs.knownEpoch,
        feed: () => this.feed as unknown as ReturnType<AdmitterParts['feed']>,
        settledHere: (conn) => this.rebalancer.forget(conn),
        socketGone: (conn) => this.rebalancer.clearGrace(conn),
        opened: () => {},
        closed: () => {},
      },
    );
  }

  get serving(): boolean {
    return this.status === 'running' || this.status === 'draining';
  }

  get topology(): AgentTopology {
    return this.rebalancer.topology;
  }

  get ring(): Ring {
    return this.rebalancer.topology.ring;
  }

  /** As agent.ts does: register, then watch; every event reaches this agent `latencyMs` late, in order. */
  async start(url: string): Promise<void> {
    await this.registration.register(url);
    this.stopWatch = await this.line.watch((event) => {
      this.inFlight++;
      this.clock.setTimeout(() => {
        this.inFlight--;
        if (this.serving) this.receive(event);
      }, this.latencyMs);
    });
  }

  /** agent.ts's onMembershipEvent. */
  private receive(e: MembershipEvent): void {
    if (e.type === 'topology') this.rebalancer.storedTopology(e.stored);
    if (e.type === 'put') this.registration.observe(e.record);
    if (e.type === 'reconnected') {
      void this.registration.beat();
      this.busy++;
      void this.rebalancer.reconfirm().finally(() => this.busy--);
    }
    this.tracker.handle(e);
    if (e.type === 'put' && this.fleet.config.returnStandIns !== false) this.rebalancer.memberSeen(e.record);
  }

  private settle(s: SettledMembers): void {
    this.busy++;
    void this.rebalancer
      .settle(s, () => this.tracker.members)
      .finally(() => {
        this.busy--;
        this.applied = s.signature;
      });
  }

  /** agent.ts's onApplied: a joining node in the ring says it is active; the first topology starts the heartbeats. */
  private onApplied(): void {
    if (!this.serving) return;
    if (this.registration.state === 'joining' && this.ring.nodes.some((n) => n.id === this.id)) void this.registration.setState('active');
    this.registration.startHeartbeats();
  }

  stop(status: 'crashed' | 'left'): void {
    this.status = status;
    this.stopWatch();
    this.registration.stop();
    this.tracker.stop();
    this.rebalancer.stop();
    if (status === 'crashed') this.line.dead = true;
  }
}

/** Why a user is looking for a node, and where it starts. */
type Pending =
  /** New client, or a node closed it with GOING_AWAY: it fetches the topology from any node first. */
  | { kind: 'bootstrap' }
  /** Its node vanished without a word: it retries under the topology it has. */
  | { kind: 'failover' }
  /** A targeted reconnect frame named its new node. */
  | { kind: 'reconnect'; target: string };

/**
 * One client: a tab (a session) of a user. A user with several tabs has several SimUsers under distinct ids
 * (`user#k`); a single-tab user's tab id is its user id.
 */
interface SimUser {
  readonly id: string;
  /** The user the tab belongs to. */
  readonly user: string;
  /** The session id its last welcome gave (kept across reconnects, as the SDK does). */
  session: string | undefined;
  /** Delivery positions received, in arrival order, and the last one (sent as `last` on every connect). */
  readonly received: number[];
  last: number | undefined;
  /** Messages of its user published before this position are none of its business (it opened later). */
  readonly from: number;
  /** Node it is connected to. */
  node: string | undefined;
  /** Its connection there, and the socket under it. */
  conn: ClientConnection | undefined;
  socket: SimSocket | undefined;
  pending: Pending | undefined;
  /** The client's topology: the ring of the node that last welcomed it (or it bootstrapped from). */
  ring: Ring | undefined;
}

/** What reached a client and waits for it to act: a reconnect frame, or its socket closed by the agent. */
type Delivery = { user: string; socket: SimSocket; node: string } & ({ kind: 'frame'; frame: Frame } | { kind: 'closed'; code: number });

const SETTLE_STEP_MS = 97;

/** What a run went through, to show the runs exercised what the invariants speak about. */
export const emptyStats = () => ({
  changes: 0,
  plans: 0,
  moves: 0,
  frames: 0,
  failovers: 0,
  standIns: 0,
  promoted: 0,
  redirects: 0,
  lostHeartbeats: 0,
  outages: 0,
  /** Crashed nodes started again while some agent still counted the old process alive. */
  restarts: 0,
  /** Stand-ins sent back to a node that restarted (reconnect frames no plan queued). */
  returned: 0,
  /** Epochs the fleet agreed on and served. */
  epochs: 0,
  /** Labels an agent made alone while the store was away, given up for the fleet's label of the same ring once it was back. */
  localLabelsGivenUp: 0,
  /** Oldest sessions closed SESSION_LIMIT because their user opened more than the limit. */
  sessionLimitCloses: 0,
  /** Messages that reached a session (live or replayed). */
  delivered: 0,
});
export type FleetStats = ReturnType<typeof emptyStats>;

export class Fleet {
  readonly clock = new ManualClock();
  /** Record ages are read on the simulated clock, as the KV bucket reads them on the server's. */
  readonly membership = new MemoryMembership(() => this.clock.now());
  readonly nodes = new Map<string, SimNode>();
  readonly users = new Map<string, SimUser>();
  readonly violations: string[] = [];
  /**
   * Reconnect frames per user, by change: the fingerprint of the ring they were sent under, and how many
   * nodes had restarted in place by then (a restart changes no ring, yet stand-ins move for it). Once the
   * fleet agrees on another ring, that change is over (a later return to the same ring is a new change),
   * so only the counts of the current change are kept.
   */
  private readonly framesByChange = new Map<string, Map<string, number>>();
  private lastAgreed: string | undefined;
  /** Restarts of crashed nodes so far: each is a change of its own. */
  private restartsSoFar = 0;
  /** Frames and closes on their way to clients. */
  private readonly inbox: Delivery[] = [];
  /** Pacer turns seen (change, sender, user): one per moved user, whatever its sessions. */
  private readonly frameTurns = new Set<string>();
  /** Tabs the agent may close SESSION_LIMIT: their user held more sessions than the limit on their node. */
  private readonly overLimit = new Set<string>();
  /** Which ring each agreed epoch names. */
  private readonly ringOfEpoch = new Map<number, string>();
  readonly stats: FleetStats = emptyStats();
  readonly random: () => number;
  /** The fleet's message log (the stream): positions per user. */
  readonly log = new SimLog();
  private nextTab = 0;

  constructor(readonly config: FleetConfig) {
    this.random = mulberry32(config.seed);
  }

  // ---- membership commands ----

  /** Start an agent (a new id, or one that crashed or left earlier). `latencyMs`: how late membership events reach it. */
  async join(id: string, latencyMs: number, clockOffsetMs: number): Promise<void> {
    const old = this.nodes.get(id);
    if (old?.serving) throw new Error(`${id} is already running`);
    if (old?.status === 'crashed') {
      this.restartsSoFar++;
      // Within the liveness timeout, as some agent sees it: that agent still counts the old process alive.
      if (this.serving().some((n) => n.tracker.table.get(id) !== undefined)) this.stats.restarts++;
    }
    // A new process, a new start time (clock views differ, so make sure it differs from the last one's).
    const offset = Math.round(this.clock.now() + clockOffsetMs) === old?.registration.record.startedAt ? clockOffsetMs + 1 : clockOffsetMs;
    const [emptyRing, index] = await Promise.all([createRing([], this.config.ring), createKeyIndex(undefined, { seed: this.config.ring?.seed ?? 0 })]);
    const node = new SimNode(this, id, latencyMs, this.clock.view(offset), this.clock.now(), emptyRing, index);
    this.nodes.set(id, node);
    await node.start(`ws://${id}.test/ws`);
    await this.step();
  }

  /** The agent's drain(): mark draining; it deregisters once its users are gone. */
  async drain(id: string): Promise<void> {
    const node = this.live(id);
    node.status = 'draining';
    await node.registration.setState('draining');
    await this.step();
  }

  /** The agent's close(): sockets closed with GOING_AWAY, record removed at once. */
  async close(id: string): Promise<void> {
    const node = this.live(id);
    node.stop('left');
    for (const user of this.usersOn(id)) this.drop(user, { kind: 'bootstrap' });
    await node.registration.deregister();
    await this.step();
  }

  /** SIGKILL: sockets die, heartbeats stop, the record stays until every agent times it out. */
  async crash(id: string): Promise<void> {
    const node = this.live(id);
    node.stop('crashed');
    for (const user of this.usersOn(id)) {
      this.drop(user, { kind: 'failover' });
      this.stats.failovers++;
    }
    await this.step();
  }

  /** The node's next heartbeat never reaches the store. Never two in a row: that is a longer outage, not one miss. */
  loseHeartbeat(id: string): boolean {
    const node = this.nodes.get(id);
    if (!node?.serving || node.line.loseNext || node.line.lastLost) return false;
    node.line.loseNext = true;
    this.stats.lostHeartbeats++;
    return true;
  }

  /**
   * The store is unreachable for `ms` (a NATS restart): no heartbeat gets through, every agent is told
   * and must keep its last topology instead of timing everyone out; then it comes back and resyncs.
   */
  async outage(ms: number): Promise<void> {
    this.membership.setConnected(false);
    this.stats.outages++;
    await this.advance(ms);
    this.membership.setConnected(true);
    await this.step();
  }

  // ---- client commands ----

  async connect(userIds: string[]): Promise<void> {
    for (const id of userIds) {
      if (this.users.has(id)) continue;
      this.users.set(id, this.newTab(id, id));
    }
    await this.step();
  }

  /** More tabs of one user, each its own session. */
  async openTabs(userId: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const id = `${userId}#${this.nextTab++}`;
      this.users.set(id, this.newTab(id, userId));
    }
    await this.step();
  }

  /** Tabs open now, by user. */
  tabsOf(userId: string): SimUser[] {
    return [...this.users.values()].filter((t) => t.user === userId);
  }

  /** A message for the user, stored (its position the next in the fleet's log) and delivered to every session the user holds. */
  async publish(userId: string): Promise<void> {
    const pos = this.log.append(userId);
    for (const node of this.serving()) node.feed.deliver(userId, pos);
    await this.step();
  }

  private newTab(id: string, user: string): SimUser {
    // A fresh client starts after everything stored so far, as the agent's feed answers it (`synced`).
    return { id, user, session: undefined, received: [], last: this.log.end, from: this.log.end, node: undefined, conn: undefined, socket: undefined, pending: { kind: 'bootstrap' }, ring: undefined };
  }

  async disconnect(userIds: string[]): Promise<void> {
    for (const id of userIds) {
      const user = this.users.get(id);
      if (!user) continue;
      this.detach(user);
      this.users.delete(id);
    }
    await this.step();
  }

  // ---- time ----

  /**
   * Let `ms` of simulated time pass, firing every timer due on the way. Between timers the agents' promise
   * continuations run (a membership write, a ring build, an epoch's compare-and-set) and clients act on
   * what reached them.
   */
  async advance(ms: number): Promise<void> {
    const until = this.clock.now() + ms;
    await this.step();
    while (this.clock.fireNext(until)) await this.step();
    this.clock.runUntil(until);
    await this.step();
  }

  /**
   * Run until nothing is left to happen: every live agent has received every event, settled and
   * applied the same ring, crashed nodes have timed out, drains have finished, pacers are empty and
   * every client is connected. Returns false if that does not happen within `limitMs`.
   */
  async settle(limitMs = 120_000): Promise<boolean> {
    const deadline = this.clock.now() + limitMs;
    while (this.clock.now() < deadline) {
      if (this.quiet()) return true;
      // A step out of phase with heartbeats and ticks, so the checks also land between heartbeat deliveries.
      await this.advance(Math.min(SETTLE_STEP_MS, deadline - this.clock.now()));
    }
    return this.quiet();
  }

  // ---- views ----

  live(id: string): SimNode {
    const node = this.nodes.get(id);
    if (!node?.serving) throw new Error(`${id} is not running`);
    return node;
  }

  /** Agents still serving (running or draining). */
  serving(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.serving);
  }

  /** The nodes the fleet should place users on once settled. */
  expectedRingIds(): string[] {
    return [...this.nodes.values()].filter((n) => n.status === 'running').map((n) => n.id).sort();
  }

  usersOn(nodeId: string): SimUser[] {
    return [...this.users.values()].filter((u) => u.node === nodeId);
  }

  /**
   * The settled-state invariants: one ring everywhere, built from exactly the live non-draining
   * members, under one epoch, the one the store's label gives that ring; every user connected once, on
   * its owner, held as a plain owner (no stand-in left).
   */
  async checkSettled(): Promise<void> {
    const serving = this.serving();
    const labels = new Set(serving.map((n) => `${n.topology.fingerprint}@${n.topology.epoch}`));
    if (new Set(serving.map((n) => n.ring.fingerprint)).size !== 1) {
      this.violations.push(`agents disagree after settling: ${serving.map((n) => `${n.id}=${n.ring.fingerprint}`).join(', ')}`);
      return;
    }
    const { ring, epoch, fingerprint } = serving[0].topology;
    if (labels.size !== 1) this.violations.push(`agents disagree on the epoch of ring ${fingerprint} after settling: ${serving.map((n) => `${n.id}@${n.topology.epoch}`).join(', ')}`);
    if (this.membership.isConnected) {
      const stored = (await this.membership.readTopology())?.stored;
      if (stored?.fingerprint !== fingerprint || stored.epoch !== epoch) this.violations.push(`the store labels ${JSON.stringify(stored)}, the fleet serves ${fingerprint}@${epoch}`);
    }
    const ringIds = ring.nodes.map((n) => n.id).join(',');
    if (ringIds !== this.expectedRingIds().join(',')) this.violations.push(`settled ring holds [${ringIds}], live members are [${this.expectedRingIds().join(',')}]`);
    let held = 0;
    for (const node of serving) {
      held += node.registry.size;
      for (const [userId] of node.registry.standIns) this.violations.push(`${userId} is still a stand-in on ${node.id} after settling`);
    }
    if (held !== this.users.size) this.violations.push(`${this.users.size} sessions, ${held} connections held`);
    const nodeOf = new Map<string, string | undefined>();
    for (const user of this.users.values()) {
      if (user.node === undefined) {
        this.violations.push(`${user.id} is not connected after settling`);
        continue;
      }
      if (!user.conn || !this.nodes.get(user.node)?.registry.sessionsOf(user.user).includes(user.conn)) this.violations.push(`${user.id} thinks it is on ${user.node}, which does not hold it`);
      const owner = ring.owner(user.user);
      if (owner !== user.node) this.violations.push(`${user.id} is on ${user.node}, its owner is ${owner}`);
      if (nodeOf.has(user.user) && nodeOf.get(user.user) !== user.node) this.violations.push(`${user.user}'s sessions are split: ${user.id} on ${user.node}, another on ${nodeOf.get(user.user)}`);
      nodeOf.set(user.user, user.node);
      // Settled: the session has every message of its user published since it opened, each once, in order.
      const expected = this.log.of(user.user).filter((p) => p > user.from);
      if (user.received.join(',') !== expected.join(',')) this.violations.push(`${user.id} received [${user.received.join(',')}], its user's messages since it opened are [${expected.join(',')}]`);
    }
  }

  /** Stop every timer of every agent (end of a run). */
  shutdown(): void {
    for (const node of this.serving()) node.stop('left');
  }

  // ---- what the agents' modules report (called from SimNode) ----

  /**
   * Every plan a Rebalancer makes goes through here: made by the configured planner (the real one unless a
   * test swaps in a broken one), checked against the oracle, counted.
   */
  planFor(node: SimNode, input: PlanInput, maxPrefs: number): Plan {
    const plan = (this.config.plan ?? planMoves)(input, maxPrefs);
    this.stats.plans++;
    this.stats.moves += plan.moves.length;
    this.stats.promoted += plan.promoted.length;
    this.checkPlan(node, input, plan);
    for (const m of plan.moves) node.planned.add(m.userId);
    return plan;
  }

  /**
   * Every topology an agent serves. Epochs only go up on each agent, and an epoch the fleet agreed names one
   * ring only. The one way down: an agent that labelled a ring alone while the store was away (above every
   * epoch it knew) gives that label up for the fleet's once the store is back; counted, not allowed below
   * an agreed epoch it served.
   */
  servedTopology(node: SimNode, t: AgentTopology): void {
    const alone = node.epochs.alone.has(`${t.fingerprint}@${t.epoch}`);
    if (t.epoch < node.agreedEpoch) this.violations.push(`${node.id}'s epoch went back from ${node.agreedEpoch} to ${t.epoch} (ring ${t.fingerprint})`);
    else if (t.epoch < node.servedEpoch) this.stats.localLabelsGivenUp++;
    node.servedEpoch = t.epoch;
    if (alone || t.epoch === 0) return;
    node.agreedEpoch = Math.max(node.agreedEpoch, t.epoch);
    const named = this.ringOfEpoch.get(t.epoch);
    if (named === undefined) {
      this.ringOfEpoch.set(t.epoch, t.fingerprint);
      this.stats.epochs++;
    } else if (named !== t.fingerprint) this.violations.push(`epoch ${t.epoch} names two rings: ${named} and, on ${node.id}, ${t.fingerprint}`);
  }

  // ---- internals: the agent side ----

  /**
   * Let the agents' promise continuations run, then the clients act on what reached them. The only async work
   * of the agents' flow is the Rebalancer's (a ring build, an epoch's compare-and-set over the in-memory store,
   * all promise continuations): while some is in flight the event loop turns (no real time passes); the
   * rest (membership writes and their events, admission, the pacer) is synchronous, so a step with nothing
   * in flight costs no turn at all.
   */
  private async step(): Promise<void> {
    for (let turns = 0; turns < 8 && [...this.nodes.values()].some((n) => n.busy > 0); turns++) await this.clock.settle();
    this.afterStep();
  }

  /**
   * Per-plan invariants, against a brute-force oracle over every local user:
   * - a node leaves a ring only if it crashed, left or is draining (a missed heartbeat is not a departure);
   * - an owned user moves exactly when its owner changed and the new owner is another node, to that owner;
   * - a stand-in whose new owner is this node is promoted, never moved (failover then no second move);
   * - a stand-in moves to its new owner unless that is a node it must avoid while this node stays in the ring.
   */
  private checkPlan(node: SimNode, { prev, next, index, standIns }: PlanInput, plan: Plan): void {
    const nextIds = new Set(next.nodes.map((n) => n.id));
    for (const gone of prev.nodes.filter((n) => !nextIds.has(n.id))) {
      const other = this.nodes.get(gone.id);
      // Legitimate only if it crashed, left or drains, or restarted and its new registration has not reached this agent yet.
      if (other?.status === 'running' && this.clock.now() > other.joinedAt + node.latencyMs) {
        this.violations.push(`${node.id} dropped ${gone.id} from its ring while ${gone.id} was heartbeating`);
      }
    }
    const moved = new Map<string, string>();
    for (const m of plan.moves) {
      if (moved.has(m.userId)) this.violations.push(`${node.id} planned ${m.userId} twice in one plan`);
      moved.set(m.userId, m.to);
      if (!index.has(m.userId)) this.violations.push(`${node.id} planned ${m.userId}, which it does not hold`);
    }
    if (next.nodes.length === 0) return;
    const selfInNext = nextIds.has(node.id);
    for (const userId of index.keys()) {
      const to = moved.get(userId);
      const owner = next.owner(userId);
      const avoid = standIns.get(userId);
      if (avoid === undefined) {
        const changed = prev.nodes.length === 0 || prev.owner(userId) !== owner;
        const shouldMove = changed && owner !== node.id;
        if (shouldMove && to !== owner) this.violations.push(`${node.id} did not move ${userId} to its new owner ${owner} (planned: ${to ?? 'none'})`);
        if (!shouldMove && to !== undefined) this.violations.push(`${node.id} moved ${userId} to ${to} although its owner ${changed ? 'is this node' : 'did not change'} (${owner})`);
        continue;
      }
      if (owner === node.id) {
        if (to !== undefined) this.violations.push(`${node.id} moved stand-in ${userId} to ${to} although it now owns it`);
        else if (!plan.promoted.includes(userId)) this.violations.push(`${node.id} owns stand-in ${userId} but did not promote it`);
      } else if (avoid.has(owner) && selfInNext) {
        if (to !== undefined) this.violations.push(`${node.id} moved stand-in ${userId} back to ${to}, a node it must avoid`);
      } else if (to === undefined) {
        this.violations.push(`${node.id} kept stand-in ${userId} although its owner ${owner} can take it`);
      } else if (!avoid.has(owner) && to !== owner) {
        this.violations.push(`${node.id} moved stand-in ${userId} to ${to}, its owner is ${owner}`);
      }
    }
  }

  /**
   * A reconnect frame leaves an agent (its Rebalancer's pacer chose the moment, its ring the target). Checked
   * as it is sent: while the sender is in its ring, a user goes to its owner unless it must avoid the owner
   * (then no frame may come at all), at the URL that node advertises; nobody gets two frames for one change.
   */
  private frameSent(node: SimNode, userId: string, frame: Frame, tab = userId): void {
    const ring = node.ring;
    const to = frame.node ?? '';
    if (frame.fingerprint !== ring.fingerprint || frame.epoch !== node.topology.epoch) this.violations.push(`${node.id} sent ${userId} a frame for ${frame.fingerprint}@${frame.epoch} while serving ${ring.fingerprint}@${node.topology.epoch}`);
    if (frame.url !== `ws://${to}.test/ws`) this.violations.push(`${node.id} sent ${userId} to ${to} at ${frame.url}`);
    if (ring.nodes.some((n) => n.id === node.id)) {
      const owner = ring.owner(userId);
      const avoid = node.registry.standIns.get(userId);
      if (to !== owner) this.violations.push(`${node.id} sent ${avoid ? 'stand-in ' : ''}${userId} to ${to}, its owner is ${owner}${avoid?.has(owner) ? ', which it must avoid' : ''}`);
    }
    const change = this.changeKey(ring.fingerprint);
    // Counted once per user and change: a user's other sessions get their frames at the same pacer turn.
    const turn = `${change}|${node.id}|${userId}`;
    if (node.planned.delete(userId)) this.frameTurns.add(turn);
    else if (!this.frameTurns.has(turn)) {
      this.frameTurns.add(turn);
      this.stats.returned++;
    }
    const counts = this.framesByChange.get(change) ?? new Map<string, number>();
    this.framesByChange.set(change, counts);
    const frames = (counts.get(tab) ?? 0) + 1;
    counts.set(tab, frames);
    if (frames > 1) this.violations.push(`${tab} received ${frames} reconnect frames for one topology change (latest from ${node.id} to ${to})`);
    this.stats.frames++;
  }

  /** One change: a ring, and the restarts so far. */
  private changeKey(fingerprint: string): string {
    return `${fingerprint}#${this.restartsSoFar}`;
  }

  /** The user's socket on its node is gone: the client closed it (the agent's onClosed follows). */
  private detach(user: SimUser): void {
    const node = user.node === undefined ? undefined : this.nodes.get(user.node);
    if (user.socket) user.socket.leave();
    if (node?.serving && user.conn) node.admitter.release(user.conn, 1000);
    node?.planned.delete(user.user);
    user.node = undefined;
    user.conn = undefined;
    user.socket = undefined;
  }

  private drop(user: SimUser, pending: Pending): void {
    this.detach(user);
    user.pending = pending;
  }

  // ---- internals: the fleet and the clients ----

  /**
   * Every serving agent has received every event, applied its current view, and all hold one ring; every
   * agent holds every serving node's current record (a lost write shows only with the next heartbeat: until
   * then a draining node is taken for a serving one, and stand-ins wait for a restarted node's record to say
   * it serves).
   */
  private agreed(): boolean {
    const serving = this.serving();
    if (serving.length === 0) return false;
    const fingerprint = serving[0].ring.fingerprint;
    const caughtUp = (n: SimNode) =>
      serving.every((m) => {
        const seen = n.tracker.table.get(m.id);
        return seen?.startedAt === m.registration.record.startedAt && seen.state === m.registration.record.state;
      });
    return serving.every(
      (n) => n.inFlight === 0 && n.busy === 0 && n.applied !== undefined && n.applied === placementSignature(n.tracker.members) && n.ring.fingerprint === fingerprint && caughtUp(n),
    );
  }

  private quiet(): boolean {
    if (!this.agreed() || this.inbox.length > 0) return false;
    const serving = this.serving();
    if (serving.some((n) => n.status === 'draining' || n.rebalancer.pending > 0)) return false;
    if ([...this.users.values()].some((u) => u.pending !== undefined)) return false;
    return serving[0].ring.nodes.map((n) => n.id).join(',') === this.expectedRingIds().join(',');
  }

  /**
   * Clients act on the frames that reached them. Clients connect while the fleet agrees on a ring: a client
   * that reaches a node still applying an older ring is told to wait or redirected, and the real client
   * retries; the model lets it arrive when the fleet has caught up. Draining agents with nothing left
   * deregister.
   */
  private afterStep(): void {
    for (const d of this.inbox.splice(0)) {
      const user = this.users.get(d.user);
      if (!user || user.socket !== d.socket) continue;
      if (d.kind === 'frame') {
        // The client follows the frame: its socket here closes, it heads for the named node.
        this.drop(user, { kind: 'reconnect', target: d.frame.node ?? '' });
      } else if (d.code === CloseCode.SESSION_LIMIT && this.overLimit.delete(user.id)) {
        // The user opened more tabs than the limit: its oldest session is closed, and the client gives up (final).
        this.stats.sessionLimitCloses++;
        this.detach(user);
        this.users.delete(user.id);
      } else {
        this.violations.push(`${d.node} closed ${user.id}'s socket (code ${d.code}) instead of letting it leave`);
        this.drop(user, { kind: 'bootstrap' });
      }
    }
    if (!this.agreed()) return;
    const change = this.changeKey(this.serving()[0].ring.fingerprint);
    if (change !== this.lastAgreed) {
      this.lastAgreed = change;
      for (const c of this.framesByChange.keys()) if (c !== change) this.framesByChange.delete(c);
      this.stats.changes++;
    }
    for (const user of this.users.values()) if (user.pending) this.land(user, user.pending);
    for (const node of this.serving()) {
      const outOfRing = !node.ring.nodes.some((n) => n.id === node.id);
      if (node.status === 'draining' && outOfRing && node.registry.size === 0 && node.rebalancer.pending === 0) {
        node.stop('left');
        // If the store is down the record stays behind, and the others time it out as a crash.
        void node.registration.deregister();
      }
    }
  }

  /** The client's connect loop: preference list under its topology, unreachable nodes skipped, one redirect per attempt at most. */
  private land(user: SimUser, pending: Pending): void {
    if (pending.kind === 'bootstrap' || user.ring === undefined) user.ring = this.serving()[0].ring;
    const unreachable: string[] = [];
    let target = pending.kind === 'reconnect' ? pending.target : undefined;
    let redirects = 0;
    const path: string[] = [];
    for (let attempt = 0; attempt < 32; attempt++) {
      if (target === undefined) {
        const prefs = user.ring.owners(user.user, Math.min(user.ring.nodes.length, this.config.maxPrefs));
        target = prefs.find((id) => !unreachable.includes(id));
        if (target === undefined) {
          // Nobody it knows answers: refetch the topology and start over.
          user.ring = this.serving()[0].ring;
          unreachable.length = 0;
          continue;
        }
      }
      const node = this.nodes.get(target);
      if (!node?.serving) {
        unreachable.push(target);
        // A node it heard of from a frame or a redirect, not from its topology: its topology is stale.
        if (!user.ring.nodes.some((n) => n.id === target)) user.ring = this.serving()[0].ring;
        target = undefined;
        redirects = 0;
        continue;
      }
      path.push(node.id);
      const prefs = user.ring.owners(user.user, Math.min(user.ring.nodes.length, this.config.maxPrefs));
      // Sessions of the user the node holds now: past the limit, the oldest of them is to be closed SESSION_LIMIT.
      const limit = this.config.maxSessionsPerUser ?? DEFAULTS.maxSessionsPerUser;
      const held = node.registry.sessionsOf(user.user);
      const sameSession = held.some((c) => c.sessionId === user.session);
      if (!sameSession && held.length >= limit) {
        const oldest = [...this.users.values()].find((t) => t.conn === held[0]);
        if (oldest) this.overLimit.add(oldest.id);
      }
      // The agent's own admission: decideAdmission behind the Admitter, which registers, welcomes, redirects or refuses.
      const socket = new SimSocket();
      const params = { user: user.user, unreachable: unreachable.filter((id) => prefs.includes(id)), ...(user.last === undefined ? {} : { last: user.last }), ...(user.session === undefined ? {} : { session: user.session }) };
      const conn = node.admitter.admit(socket as unknown as AgentSocket, user.user, params);
      const first = socket.frames[0];
      if (conn && first?.type === 'welcome') {
        if (user.session !== undefined && first.session !== user.session) this.violations.push(`${user.id} asked to keep session ${user.session}, ${node.id} gave ${first.session}`);
        user.session = first.session;
        for (const f of socket.frames) if (f.type === 'message') this.received(user, f);
        user.node = node.id;
        user.conn = conn;
        user.socket = socket;
        user.pending = undefined;
        user.ring = node.ring;
        socket.onFrame = (frame) => {
          if (frame.type === 'message') this.received(user, frame);
          if (frame.type !== 'reconnect') return;
          this.frameSent(node, user.user, frame, user.id);
          this.inbox.push({ user: user.id, socket, node: node.id, kind: 'frame', frame });
        };
        socket.onServerClose = (code) => this.inbox.push({ user: user.id, socket, node: node.id, kind: 'closed', code });
        if (first.standIn) this.stats.standIns++;
        return;
      }
      if (first?.type !== 'redirect') {
        this.violations.push(`${node.id} refused ${user.id} (code ${socket.closeCode}) while the fleet agreed on a ring`);
        return;
      }
      redirects++;
      this.stats.redirects++;
      if (redirects > 1) {
        this.violations.push(`${user.id} was redirected ${redirects} times in a row (${path.join(' -> ')} -> ${first.node}; ${pending.kind}, unreachable [${unreachable}])`);
        return;
      }
      target = first.node;
    }
    this.violations.push(`${user.id} found no node to connect to`);
  }

  /** A message reached a tab: positions of its user only, each once, in order (the SDK would drop a duplicate; the agent must not send one). */
  private received(tab: SimUser, frame: Frame): void {
    const pos = frame.pos as number;
    if (!this.log.of(tab.user).includes(pos)) this.violations.push(`${tab.id} received position ${pos}, not a message of ${tab.user}`);
    if (tab.last !== undefined && pos <= tab.last) this.violations.push(`${tab.id} received position ${pos} again or out of order (last ${tab.last})`);
    tab.received.push(pos);
    this.stats.delivered++;
    tab.last = Math.max(tab.last ?? 0, pos);
  }
}

/** The stream: one sequence for the whole fleet, each position belonging to one user. */
export class SimLog {
  private readonly byUser = new Map<string, number[]>();
  end = 0;
  append(userId: string): number {
    const pos = ++this.end;
    const list = this.byUser.get(userId) ?? [];
    list.push(pos);
    this.byUser.set(userId, list);
    return pos;
  }
  of(userId: string): readonly number[] {
    return this.byUser.get(userId) ?? [];
  }
}

/**
 * A node's live feed as the Admitter drives it (attach at the client's `last`, detach on close or displacement):
 * on attach it replays the user's stored messages after `last`, then forwards each new one to every attached
 * session of the user. The real LiveFeed reads JetStream; this one reads the fleet's log.
 */
class SimFeed {
  private readonly sessions = new Map<string, Set<ClientConnection>>();
  constructor(private readonly log: SimLog) {}
  attach(conn: ClientConnection, last: number | undefined): void {
    for (const pos of this.log.of(conn.userId)) if (last === undefined || pos > last) conn.sendFrame({ type: 'message', data: pos, pos });
    const set = this.sessions.get(conn.userId) ?? new Set<ClientConnection>();
    set.add(conn);
    this.sessions.set(conn.userId, set);
  }
  detach(conn: ClientConnection): void {
    const set = this.sessions.get(conn.userId);
    set?.delete(conn);
    if (set?.size === 0) this.sessions.delete(conn.userId);
  }
  deliver(userId: string, pos: number): void {
    for (const conn of this.sessions.get(userId) ?? []) conn.sendFrame({ type: 'message', data: pos, pos });
  }
}

/** Small seeded PRNG so jitter is reproducible from the run's seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
