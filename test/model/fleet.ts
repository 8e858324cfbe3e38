// A fleet of agents on simulated time, each built from the agent's own modules exactly as agent.ts wires them:
// Registration (record, heartbeats), TopologyTracker (liveness, settle window), EpochAgreement (the fleet's
// epoch by compare-and-set), Rebalancer (ring, plan, pacer, reconnect frames, grace timers, stand-ins going
// back to a restarted node) and Admitter (who connects where), over one shared MemoryMembership, each agent
// on its own view of one ManualClock. What is simulated: each agent's line to the store (delivery latency,
// a lost heartbeat, a crashed process), the sockets (a fake that records the frames the agent sends), and
// the clients, which follow those frames. Every plan, every reconnect frame, every epoch and every settled
// state is checked as it happens; breaches are collected in `violations`. The two deploys that replace a node's
// process run the agent's own code for the old process (handoff.ts's handOff, restart-in-place.ts's restartInPlace),
// a handoff's successor being a second SimNode under the same id at another URL (see Fleet.handoff, Fleet.restartInPlace).
import { createKeyIndex, createRing, type KeyIndex, type Ring, type RingOptions } from '@wsring/ring';
import { DEFAULTS, MemoryMembership, type AgentTopology, type Clock, type Logger, type MemberRecord, type Membership, type MembershipEvent, type StoredTopology } from '@wsring/node-agent';
import {
  Admitter,
  AgentMetrics,
  every,
  handOff,
  restartInPlace,
  ConnectionRegistry,
  EpochAgreement,
  FledNodes,
  Rebalancer,
  LANE_BURST_MS,
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
import { worstExcess } from '../support/rate-window.js';
import { seededRandom } from '../support/seeded-random.js';

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
  /**
   * A broken deploy, to show the invariants catch it: 'handoff-too-fast' paces a handoff at twice the successor's
   * accept rate (the successor declares twice its node's rate, the bound keeps the node's own); 'handoff-early' sends the handoff frames before the ring names the successor's URL;
   * 'restart-too-fast' spreads a restart's slots at four times the node's accept rate.
   */
  brokenDeploy?: 'handoff-too-fast' | 'handoff-early' | 'restart-too-fast';
  /** Per node id: its weight and declared accept rate (default 1 and the agent's default). */
  nodeSpecs?: Record<string, { weight?: number; acceptRate?: number }>;
}

/** The agent's defaults: the model runs the timing an operator gets out of the box. */
export const DEFAULT_FLEET: Omit<FleetConfig, 'seed'> = {
  heartbeatMs: DEFAULTS.heartbeatMs,
  livenessTimeoutMs: DEFAULTS.livenessTimeoutMs,
  settleMs: DEFAULTS.settleMs,
  pacing: { ratePerSec: DEFAULTS.pacing.ratePerSec, burst: DEFAULTS.pacing.burst, jitterMs: DEFAULTS.pacing.jitterMs },
  maxPrefs: DEFAULTS.maxUnreachable + 1,
};

/**
 * running: serving; draining: moving its users out (a drain, or a handoff to its successor); crashed: silent,
 * record left behind; left: deregistered (or handed over); restarting: stopped for a restart in place, its record held.
 */
export type NodeStatus = 'running' | 'draining' | 'crashed' | 'left' | 'restarting';

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
  async putSuccessor(record: MemberRecord): Promise<void> {
    this.alive();
    await this.store.putSuccessor(record);
  }
  async removeSuccessor(id: string): Promise<void> {
    this.alive();
    await this.store.removeSuccessor(id);
  }
  async readRecords(id: string): ReturnType<MemoryMembership['readRecords']> {
    this.alive();
    return this.store.readRecords(id);
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
  /** A reconnect frame's delay (a drain's or handoff's remainder), a restart frame's. */
  delayMs?: number;
  retryAfterMs?: number;
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
  /** Placement signature of the member set the Rebalancer last applied, and when (shared time) it first applied one. */
  applied: string | undefined;
  appliedAt: number | undefined;
  /** Users a plan queued and no frame has gone to yet: a frame for anyone else is a stand-in sent back. */
  readonly planned = new Set<string>();
  /** The epoch this agent serves, and the highest one it served that the fleet had agreed. */
  servedEpoch = 0;
  agreedEpoch = 0;
  stopWatch: () => void = () => {};
  /** The URL this process serves at (a handoff's successor serves the same id at another). */
  url = '';
  /** Set while handing off: where this node's users that connect here are sent (agent.ts's handoffUrl). */
  handoffUrl: string | undefined;
  stopConverging: () => void = () => {};
  /** agent.ts's waiters: for the node to empty, for a topology change. */
  private readonly emptyWaiters = new Set<() => void>();
  private readonly topologyWaiters = new Set<() => void>();

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
    /** A broken process declares this times its node's accept rate (the model's bound keeps the node's own). */
    declaredRateFactor = 1,
  ) {
    const { config } = fleet;
    const metrics = new AgentMetrics(id);
    this.line = new SimLine(fleet.membership);
    this.registry = new ConnectionRegistry(index);
    this.fled = new FledNodes(() => clock.now(), DEFAULTS.restartWindowMs);
    const spec = config.nodeSpecs?.[id];
    this.registration = new Registration(this.line, { id, weight: spec?.weight ?? 1, acceptRate: (spec?.acceptRate ?? DEFAULTS.acceptRate) * declaredRateFactor, heartbeatMs: config.heartbeatMs, clock, logger: silent });
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
        topology: (t) => {
          fleet.servedTopology(this, t);
          this.topologyChanged();
        },
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
        handoffUrl: () => this.handoffUrl,
        topology: () => this.rebalancer.topology,
        knownEpoch: () => this.epochs.knownEpoch,
        feed: () => this.feed as unknown as ReturnType<AdmitterParts['feed']>,
        settledHere: (conn) => this.rebalancer.forget(conn),
        socketGone: (conn) => this.rebalancer.clearGrace(conn),
        opened: () => {},
        closed: () => {
          if (this.registry.size === 0) for (const wake of [...this.emptyWaiters]) wake();
        },
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

  /**
   * As agent.ts does: claim the id (register, or wait as the successor of the process serving it), then watch;
   * every event reaches this agent `latencyMs` late, in order; stand-ins converge periodically.
   */
  async start(url: string): Promise<'member' | 'successor'> {
    this.url = url;
    const role = await this.registration.claim(url, this.fleet.config.livenessTimeoutMs);
    this.stopConverging = every(this.clock, Math.max(1_000, Math.floor(DEFAULTS.convergeAfterMs / 6)), () => void this.rebalancer.converge());
    this.stopWatch = await this.line.watch((event) => {
      this.inFlight++;
      this.clock.setTimeout(() => {
        this.inFlight--;
        if (this.serving) this.receive(event);
      }, this.latencyMs);
    });
    return role;
  }

  /** agent.ts's takeOver: a successor takes the id's record (handed over, or the predecessor left). */
  private takeOver(): void {
    if (!this.registration.isSuccessor || !this.serving) return;
    this.busy++;
    void this.registration.takeOver(this.ring.nodes.some((n) => n.id === this.id) ? 'active' : 'joining').finally(() => this.busy--);
  }

  /** agent.ts's untilTopology: once `ready()` holds after a topology change (or now), or after `ms`. The wait does not count as busy. */
  untilTopology(ready: () => boolean, ms: number): Promise<void> {
    if (ready()) return Promise.resolve();
    return this.waitFor(this.topologyWaiters, ready, ms);
  }

  /** agent.ts's untilEmpty: once the last connection is gone, or after `ms`. */
  untilEmpty(ms: number): Promise<void> {
    if (this.registry.size === 0) return Promise.resolve();
    return this.waitFor(this.emptyWaiters, () => true, ms);
  }

  /** Called by the fleet for every topology this agent serves. */
  topologyChanged(): void {
    for (const wake of [...this.topologyWaiters]) wake();
  }

  private waitFor(waiters: Set<() => void>, ready: () => boolean, ms: number): Promise<void> {
    this.busy--;
    return new Promise((resolve) => {
      const done = () => {
        this.clock.clearTimeout(timer);
        waiters.delete(check);
        this.busy++;
        resolve();
      };
      const check = () => {
        if (ready()) done();
      };
      const timer = this.clock.setTimeout(done, ms);
      waiters.add(check);
    });
  }

  /** agent.ts's onMembershipEvent. */
  private receive(e: MembershipEvent): void {
    if (e.type === 'topology') this.rebalancer.storedTopology(e.stored);
    if (e.type === 'put' && this.registration.observe(e.record)) this.takeOver();
    if (e.type === 'delete' && e.id === this.id && this.registration.isSuccessor) this.takeOver();
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
        this.appliedAt ??= this.fleet.clock.now();
      });
  }

  /** agent.ts's onApplied: a joining node in the ring says it is active; the first topology starts the heartbeats. */
  private onApplied(): void {
    if (!this.serving) return;
    if (this.registration.state === 'joining' && this.ring.nodes.some((n) => n.id === this.id)) void this.registration.setState('active');
    this.registration.startHeartbeats();
  }

  stop(status: 'crashed' | 'left' | 'restarting'): void {
    this.status = status;
    for (const wake of [...this.emptyWaiters]) wake();
    this.stopConverging();
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
  /** A targeted reconnect frame named its new node (at `url`), to be reached `notBefore` (a delayed frame). */
  | { kind: 'reconnect'; target: string; url?: string; from?: string; sentAt?: number; notBefore?: number }
  /** Its node restarts in place: back to it (the same URL) at `at`, not before; if it is not serving then, failover. */
  | { kind: 'comeBack'; target: string; from: string; at: number };

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
  /** Its connection there, the process holding it, and the socket under it. */
  conn: ClientConnection | undefined;
  proc?: SimNode;
  socket: SimSocket | undefined;
  pending: Pending | undefined;
  /** The client's topology: the ring of the node that last welcomed it (or it bootstrapped from). */
  ring: Ring | undefined;
  /** The delay of the `restart` frame its node sent, until the close that follows it. */
  restartAfterMs?: number;
}

/** What reached a client and waits for it to act: a reconnect frame, or its socket closed by the agent. */
type Delivery = { user: string; socket: SimSocket; node: string } & ({ kind: 'frame'; frame: Frame; sentAt: number } | { kind: 'closed'; code: number });

const SETTLE_STEP_MS = 97;

/** A deploy under way: who was where when it started, and every frame it sent. */
interface Deploy {
  kind: 'handoff' | 'restart';
  id: string;
  /** The old process. */
  old: SimNode;
  startedAt: number;
  /** Tabs on the old process at the start, with their connection there. */
  tabs: Map<string, ClientConnection>;
  /** Every other tab's connection: it must keep it. */
  others: Map<string, ClientConnection | undefined>;
  /** Reconnect or restart frames each tab received during the deploy. */
  frames: Map<string, Frame[]>;
  /** Users that arrived somewhere by a frame (or came back) during the deploy, per tab. */
  arrivals: Map<string, { node: string; at: number; proc: SimNode | undefined }[]>;
  /** Served ring and epoch, node by node, at the start. */
  label: string;
}

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
  /**
   * Every user that landed on a node by following a reconnect frame: where, from whom, and when its frame went out
   * (shared time; the model's clients land once the fleet agrees, so the frame's time is the arrival's, less a constant round trip).
   */
  readonly arrivals: { node: string; from: string; user: string; at: number }[] = [];
  /** The old process of a handoff, from the moment it starts handing off until it closes (the id's entry in `nodes` is its successor). */
  readonly retiring = new Set<SimNode>();
  /** A process waiting as the successor of the one serving its id. */
  readonly successors = new Map<string, SimNode>();
  /** The deploy under way (a handoff or a restart in place), whose frames and closes are checked as they happen. */
  private deploy: Deploy | undefined;
  /** Processes started under an id so far (a handoff's successor gets its own URL from it). */
  private generation = 0;
  /** What the deploys went through. */
  readonly deployStats = { handoffs: 0, handedOff: 0, handoffStandInsHome: 0, remainders: 0, restarts: 0, restartedUsers: 0, cameBackInTime: 0, failedOverPastSlot: 0 };
  readonly random: () => number;
  /** The fleet's message log (the stream): positions per user. */
  readonly log = new SimLog();
  private nextTab = 0;

  constructor(readonly config: FleetConfig) {
    this.random = seededRandom(config.seed);
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
    // A process started again under an id serves where the last one did (the same host and port).
    await node.start(old?.url ?? `ws://${id}.test/ws`);
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

  // ---- deploys ----

  /** The accept rate node `id` declares. */
  acceptRateOf(id: string): number {
    return this.config.nodeSpecs?.[id]?.acceptRate ?? DEFAULTS.acceptRate;
  }

  /**
   * Handoff deploy of `id`, run to its end once the fleet is quiet (false, and nothing done, if it does not get
   * quiet): a successor process starts under the id at another URL and waits; the serving process hands over to it
   * with the agent's own `handOff` (handoff.ts, what SIGTERM runs) and closes. Checked (as violations): each user of
   * the node gets exactly one reconnect frame, naming the node at the successor's URL (a stand-in: its owner), and
   * arrives there once; no other process sends a frame and every other session keeps its connection; ring and epoch
   * stay; arrivals at the successor stay within A x (T + LANE_BURST_MS) + 1 (one sender).
   */
  async handoff(id: string, deadlineMs: number, latencyMs: number): Promise<boolean> {
    if (!(await this.settle())) return false;
    const old = this.live(id);
    if (old.status !== 'running') return false;
    const { config } = this;
    const url = `ws://${id}.test/ws?g=${++this.generation}`;
    const [emptyRing, index] = await Promise.all([createRing([], config.ring), createKeyIndex(undefined, { seed: config.ring?.seed ?? 0 })]);
    // A handoff paces at what the successor declares: the broken one declares twice the node's accept rate.
    const next = new SimNode(this, id, latencyMs, this.clock.view(0), this.clock.now(), emptyRing, index, config.brokenDeploy === 'handoff-too-fast' ? 2 : 1);
    this.successors.set(id, next);
    if ((await next.start(url)) !== 'successor') this.violations.push(`the second process of ${id} did not wait as its successor`);
    // It settles on the fleet's ring and heartbeats its successor record.
    await this.advance(config.settleMs + 2 * config.heartbeatMs + 2 * latencyMs + 100);
    const successor = await old.registration.liveSuccessor(config.livenessTimeoutMs);
    if (successor?.url !== url) {
      this.violations.push(`${id} sees no live successor (${successor?.url})`);
      return true;
    }
    this.restartsSoFar++;
    const d = this.beginDeploy('handoff', old);
    this.deployStats.handoffs++;
    let result: { users: number; remaining: number } | undefined;
    old.busy++;
    const run = handOff(
      {
        self: id,
        registration: old.registration,
        rebalancer: old.rebalancer,
        registry: old.registry,
        logger: silent,
        settleMs: config.settleMs,
        livenessTimeoutMs: config.livenessTimeoutMs,
        jitterMs: config.pacing.jitterMs,
        defaultAcceptRate: DEFAULTS.acceptRate,
        begin: (successorUrl) => {
          old.handoffUrl = successorUrl;
          old.status = 'draining';
          old.stopConverging();
          // From now on the id is the successor's; the old process serves its users until they are gone.
          this.retiring.add(old);
          this.nodes.set(id, next);
          this.successors.delete(id);
        },
        untilTopology: (ready, ms) => (config.brokenDeploy === 'handoff-early' ? Promise.resolve() : old.untilTopology(ready, ms)),
        untilEmpty: (ms) => old.untilEmpty(ms),
        handingOff: () => old.status === 'draining',
        spreadRemainder: async () => {
          if (old.rebalancer.spreadRemainder().users > 0) this.deployStats.remainders++;
        },
      },
      successor,
      deadlineMs,
    )
      .then((r) => (result = r))
      .finally(() => old.busy--);
    const limit = this.clock.now() + deadlineMs + config.settleMs + config.livenessTimeoutMs + 10_000;
    while (result === undefined && this.clock.now() < limit) await this.advance(SETTLE_STEP_MS);
    if (result === undefined) this.violations.push(`the handoff of ${id} did not finish`);
    await run;
    // The agent's close(): whoever is still here is closed GOING_AWAY (none should be: each got its frame).
    old.stop('left');
    for (const user of [...this.users.values()].filter((u) => u.proc === old)) {
      this.violations.push(`${user.id} was still on the old process of ${id} when it closed`);
      this.drop(user, { kind: 'bootstrap' });
    }
    await old.registration.deregister();
    this.retiring.delete(old);
    await this.step();
    if (!(await this.settle())) this.violations.push(`the fleet did not settle after the handoff of ${id}`);
    this.endHandoff(d, next);
    return true;
  }

  /**
   * Restart in place of `id`, run to the end once the fleet is quiet (false if it does not get quiet): the old process
   * runs the agent's own `restartInPlace` (restart-in-place.ts) with `backInMs`; `downMs` later the next process
   * starts under the same id and URL. Checked: each session of the node gets one `restart` frame, with a slot no
   * earlier than `backInMs`; a user whose slot comes once the next process serves comes back once, to the node, at
   * its slot; users come back within the node's accept rate (A x (T + LANE_BURST_MS) + 1 over every window T).
   * Within the hold nobody else is touched and ring and epoch stay; past it, normal failover applies (and the
   * fleet's own invariants).
   */
  async restartInPlace(id: string, backInMs: number, downMs: number, latencyMs: number): Promise<boolean> {
    if (!(await this.settle())) return false;
    const old = this.live(id);
    if (old.status !== 'running') return false;
    this.restartsSoFar++;
    const d = this.beginDeploy('restart', old);
    this.deployStats.restarts++;
    const { config } = this;
    old.busy++;
    const { spreadMs } = await restartInPlace(
      { registry: old.registry, registration: old.registration, acceptRate: this.acceptRateOf(id) * (config.brokenDeploy === 'restart-too-fast' ? 4 : 1), livenessTimeoutMs: config.livenessTimeoutMs, logger: silent, stop: () => old.stop('restarting') },
      backInMs,
    ).finally(() => old.busy--);
    await this.step();
    await this.advance(downMs);
    await this.join(id, latencyMs, 0);
    const next = this.live(id);
    if (!(await this.settle())) this.violations.push(`the fleet did not settle after the restart in place of ${id}`);
    // The next process serves once it has applied the fleet's ring (the agent's start() resolves then).
    this.endRestart(d, backInMs, next.appliedAt ?? Infinity, downMs < backInMs + spreadMs + config.livenessTimeoutMs);
    return true;
  }

  private beginDeploy(kind: Deploy['kind'], old: SimNode): Deploy {
    const tabs = new Map<string, ClientConnection>();
    const others = new Map<string, ClientConnection | undefined>();
    for (const user of this.users.values()) {
      if (user.proc === old && user.conn) tabs.set(user.id, user.conn);
      else others.set(user.id, user.conn);
    }
    const d: Deploy = { kind, id: old.id, old, startedAt: this.clock.now(), tabs, others, frames: new Map(), arrivals: new Map(), label: this.label() };
    this.deploy = d;
    return d;
  }

  /** Ring and epoch each serving agent serves. */
  private label(): string {
    return [...this.nodes.values()]
      .filter((n) => n.serving)
      .map((n) => `${n.id}=${n.ring.fingerprint}@${n.topology.epoch}`)
      .sort()
      .join(',');
  }

  /** The deploy is over: nobody else was touched, ring and epoch stayed. */
  private endDeploy(d: Deploy, strict: boolean): void {
    this.deploy = undefined;
    if (!strict) return;
    const what = d.kind === 'handoff' ? 'handoff' : 'restart in place';
    if (this.label() !== d.label) this.violations.push(`the ${what} of ${d.id} changed ring or epoch: ${d.label} -> ${this.label()}`);
    for (const [tab, conn] of d.others) {
      const user = this.users.get(tab);
      if (!user) continue;
      if (user.conn !== conn) this.violations.push(`${tab}, not on ${d.id}, lost its connection during the ${what} of ${d.id}`);
    }
  }

  private endHandoff(d: Deploy, next: SimNode): void {
    this.endDeploy(d, true);
    const times = new Map<string, number>();
    for (const [tab] of d.tabs) {
      const user = this.users.get(tab);
      if (!user) continue;
      const frames = d.frames.get(tab) ?? [];
      const arrived = d.arrivals.get(tab) ?? [];
      if (frames.length !== 1) {
        this.violations.push(`${tab} got ${frames.length} frames in the handoff of ${d.id}`);
        continue;
      }
      const to = frames[0].node;
      if (arrived.length !== 1 || arrived[0].node !== to || (to === d.id && arrived[0].proc !== next)) {
        this.violations.push(`${tab} was sent to ${to} in the handoff of ${d.id} and arrived at [${arrived.map((a) => a.node)}]`);
        continue;
      }
      this.deployStats.handedOff++;
      if (to !== d.id) this.deployStats.handoffStandInsHome++;
      else times.set(user.user, Math.min(times.get(user.user) ?? Infinity, arrived[0].at));
    }
    this.checkRate(d, [...times.values()]);
  }

  private endRestart(d: Deploy, backInMs: number, backAt: number, withinHold: boolean): void {
    this.endDeploy(d, withinHold);
    const slots = new Map<string, number>();
    for (const [tab] of d.tabs) {
      const user = this.users.get(tab);
      if (!user) continue;
      const all = d.frames.get(tab) ?? [];
      const frames = all.filter((f) => f.type === 'restart');
      if (frames.length !== 1) {
        this.violations.push(`${tab} got ${frames.length} restart frames in the restart in place of ${d.id}`);
        continue;
      }
      const slot = frames[0].retryAfterMs ?? 0;
      if (slot < backInMs) this.violations.push(`${tab} was told to come back after ${slot} ms, before ${backInMs}`);
      const at = d.startedAt + slot;
      const seen = slots.get(user.user);
      if (seen !== undefined && seen !== at) this.violations.push(`${user.user}'s sessions got different slots (${seen - d.startedAt} and ${slot} ms)`);
      slots.set(user.user, at);
      this.deployStats.restartedUsers++;
      const arrived = d.arrivals.get(tab) ?? [];
      if (at < backAt) {
        this.deployStats.failedOverPastSlot++;
        continue;
      }
      if (all.length !== 1 || arrived.length !== 1 || arrived[0].node !== d.id || arrived[0].at !== at) {
        this.violations.push(`${tab}, due back at ${slot} ms (the node served again at ${backAt - d.startedAt} ms), arrived at [${arrived.map((a) => `${a.node}@${a.at - d.startedAt}`)}]`);
        continue;
      }
      this.deployStats.cameBackInTime++;
    }
    // The slots themselves spread the users at the node's accept rate (the next process is their receiver).
    this.checkRate(d, [...slots.values()]);
  }

  /** Arrivals at the deployed node, one per user, within its accept rate: A x (T + LANE_BURST_MS) + 1 over every window T. */
  private checkRate(d: Deploy, times: number[]): void {
    const rate = this.acceptRateOf(d.id);
    const excess = worstExcess(times.sort((a, b) => a - b), rate);
    if (excess > 1 + (rate * LANE_BURST_MS) / 1000 + 1e-9) this.violations.push(`${times.length} users arrived at ${d.id} faster than its accept rate ${rate}/s (a window saw ${excess.toFixed(2)} beyond A x T)`);
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

  /** Agents still serving (running or draining), a handoff's old process included. */
  serving(): SimNode[] {
    return [...this.nodes.values(), ...this.retiring].filter((n) => n.serving);
  }

  /** Every process: the nodes', handoffs' old ones and waiting successors. */
  private processes(): SimNode[] {
    return [...this.nodes.values(), ...this.retiring, ...this.successors.values()];
  }

  /** The serving process at `url`, if any. */
  private processAt(url: string): SimNode | undefined {
    return this.processes().find((n) => n.url === url && n.serving);
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
    for (const node of this.processes()) if (node.serving) node.stop('left');
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
    for (let turns = 0; turns < 8 && this.processes().some((n) => n.busy > 0); turns++) await this.clock.settle();
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
    if (frame.url !== this.nodes.get(to)?.url) this.violations.push(`${node.id} sent ${userId} to ${to} at ${frame.url} (it serves at ${this.nodes.get(to)?.url})`);
    const d = this.deploy;
    if (d) {
      // A handoff: frames from the old process to its own users only. A restart in place: only users of the node
      // that found it down at their slot and failed over are sent back to it (as after a crash).
      const allowed = d.tabs.has(tab) && (d.kind === 'handoff' ? node === d.old : to === d.id && node !== d.old);
      if (!allowed) this.violations.push(`${node.id} sent ${tab} to ${to} during the ${d.kind} of ${d.id}`);
      d.frames.set(tab, [...(d.frames.get(tab) ?? []), frame]);
    }
    if (d?.kind === 'handoff' && node === d.old) {
      // Handing off: to this node at its successor's URL, or, a stand-in whose owner can take it, home to its owner.
      const owner = ring.owner(userId);
      if (to !== node.id && (to !== owner || !node.registry.standIns.has(userId))) this.violations.push(`${node.id} handed ${userId} off to ${to}, neither itself nor (a stand-in) its owner ${owner}`);
    } else if (ring.nodes.some((n) => n.id === node.id)) {
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

  /** A `restart` frame: only from the process restarting in place, to its own sessions. */
  private restartFrame(node: SimNode, user: SimUser, frame: Frame): void {
    const d = this.deploy;
    if (d?.kind !== 'restart' || node !== d.old || !d.tabs.has(user.id)) this.violations.push(`${node.id} sent ${user.id} a restart frame${d ? ` during the ${d.kind} of ${d.id}` : ''}`);
    else d.frames.set(user.id, [...(d.frames.get(user.id) ?? []), frame]);
    user.restartAfterMs = frame.retryAfterMs;
  }

  /** One change: a ring, and the restarts so far. */
  private changeKey(fingerprint: string): string {
    return `${fingerprint}#${this.restartsSoFar}`;
  }

  /** The user's socket on its node is gone: the client closed it (the agent's onClosed follows). */
  private detach(user: SimUser): void {
    const node = user.proc;
    if (user.socket) user.socket.leave();
    if (node?.serving && user.conn) node.admitter.release(user.conn, 1000);
    node?.planned.delete(user.user);
    user.node = undefined;
    user.conn = undefined;
    user.proc = undefined;
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
    const members = serving.filter((m) => !this.retiring.has(m));
    const caughtUp = (n: SimNode) =>
      members.every((m) => {
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
        // The client follows the frame: its socket here closes, it heads for the named node (after the frame's delay).
        const notBefore = d.frame.delayMs ? d.sentAt + d.frame.delayMs : undefined;
        if (notBefore !== undefined) this.clock.setTimeout(() => {}, d.frame.delayMs as number);
        this.drop(user, { kind: 'reconnect', target: d.frame.node ?? '', url: d.frame.url, from: d.node, sentAt: d.sentAt, ...(notBefore === undefined ? {} : { notBefore }) });
      } else if (d.code === CloseCode.RESTARTING && user.restartAfterMs !== undefined) {
        // Its node restarts in place: back to the same node at its slot (the client's timer wakes the model then).
        const after = user.restartAfterMs;
        user.restartAfterMs = undefined;
        this.clock.setTimeout(() => {}, after);
        this.drop(user, { kind: 'comeBack', target: d.node, from: d.node, at: this.clock.now() + after });
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
    const now = this.clock.now();
    if ((pending.kind === 'comeBack' && now < pending.at) || (pending.kind === 'reconnect' && pending.notBefore !== undefined && now < pending.notBefore)) return;
    if (pending.kind === 'bootstrap' || user.ring === undefined) user.ring = this.serving()[0].ring;
    const unreachable: string[] = [];
    let target = pending.kind === 'reconnect' || pending.kind === 'comeBack' ? pending.target : undefined;
    // A frame's or redirect's URL: that process; else the node's (the model's clients find a node's process by its id).
    let url = pending.kind === 'reconnect' ? pending.url : undefined;
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
      const node = url === undefined ? this.nodes.get(target) : this.processAt(url);
      url = undefined;
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
        if (pending.kind === 'reconnect') this.arrivals.push({ node: node.id, from: pending.from ?? '', user: user.id, at: pending.notBefore ?? pending.sentAt ?? now });
        const deploy = this.deploy;
        if (deploy?.tabs.has(user.id) && pending.kind !== 'bootstrap') {
          const at = pending.kind === 'comeBack' ? pending.at : pending.kind === 'reconnect' ? (pending.notBefore ?? pending.sentAt ?? now) : now;
          deploy.arrivals.set(user.id, [...(deploy.arrivals.get(user.id) ?? []), { node: node.id, at, proc: node }]);
        }
        user.node = node.id;
        user.proc = node;
        user.conn = conn;
        user.socket = socket;
        user.pending = undefined;
        user.ring = node.ring;
        socket.onFrame = (frame) => {
          if (frame.type === 'message') this.received(user, frame);
          if (frame.type === 'restart') this.restartFrame(node, user, frame);
          if (frame.type !== 'reconnect') return;
          this.frameSent(node, user.user, frame, user.id);
          this.inbox.push({ user: user.id, socket, node: node.id, kind: 'frame', frame, sentAt: this.clock.now() });
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
      url = first.url;
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

