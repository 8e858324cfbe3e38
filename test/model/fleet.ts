// A fleet of agents on simulated time, built from the agent's own pieces: MemoryMembership as the
// store, one TopologyTracker (liveness + settle window) per agent on its own clock view, buildRing,
// planMoves, the Pacer, targetOf, decideAdmission, and FledNodes with planReturns for stand-ins whose
// node restarts. Only the sockets and the clients' side are simulated. Every plan, every reconnect and
// every settled state is checked as it happens; breaches are collected in `violations`.
import { createKeyIndex, createRing, type KeyIndex, type Ring, type RingOptions } from '@wsring/ring';
import { DEFAULTS, MemoryMembership, type MemberRecord } from '@wsring/node-agent';
import {
  FledNodes,
  Pacer,
  TopologyTracker,
  buildRing,
  decideAdmission,
  placementSignature,
  planMoves,
  planReturns,
  targetOf,
  type Plan,
  type PlanInput,
  type SettledMembers,
} from '@wsring/node-agent/internal';
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
  /** The planner the agents use; a test swaps in a broken one to show the invariants catch it. */
  plan?: (input: PlanInput, maxPrefs: number) => Plan;
  /** Whether stand-ins go back to a node that restarted within the liveness timeout (false: a broken agent that never sends them). */
  returnStandIns?: boolean;
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

export interface SimNode {
  readonly id: string;
  status: NodeStatus;
  readonly record: MemberRecord;
  readonly tracker: TopologyTracker;
  readonly pacer: Pacer;
  /** The connected users, as the agent's registry indexes them. */
  readonly index: KeyIndex;
  readonly standIns: Map<string, Set<string>>;
  /** Which incarnation of which node each stand-in fled. */
  readonly fled: FledNodes;
  ring: Ring;
  /** Placement signature of the member set the current ring was built from. */
  applied: string | undefined;
  readonly settled: SettledMembers[];
  /** Membership events sent to this agent and not yet received. */
  inFlight: number;
  /** The next heartbeat is to be lost. */
  loseNext: boolean;
  /** The latest heartbeat was lost. */
  lastLost: boolean;
  /** How late membership events reach this agent. */
  readonly latencyMs: number;
  /** Simulated time this incarnation registered. */
  readonly joinedAt: number;
  stopWatch: () => void;
  heartbeatTimer: unknown;
}

/** Why a user is looking for a node, and where it starts. */
type Pending =
  /** New client, or a node closed it with GOING_AWAY: it fetches the topology from any node first. */
  | { kind: 'bootstrap' }
  /** Its node vanished without a word: it retries under the topology it has. */
  | { kind: 'failover' }
  /** A targeted reconnect frame named its new node. */
  | { kind: 'reconnect'; target: string };

interface SimUser {
  readonly id: string;
  /** Node it is connected to. */
  node: string | undefined;
  pending: Pending | undefined;
  /** The client's topology: the ring of the node that last welcomed it (or it bootstrapped from). */
  ring: Ring | undefined;
}

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
  /** Stand-ins sent back to a node that restarted. */
  returned: 0,
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
  readonly stats: FleetStats = emptyStats();
  private readonly random: () => number;
  private readonly plan: (input: PlanInput, maxPrefs: number) => Plan;

  constructor(readonly config: FleetConfig) {
    this.random = mulberry32(config.seed);
    this.plan = config.plan ?? planMoves;
  }

  // ---- membership commands ----

  /** Start an agent (a new id, or one that crashed or left earlier). `latencyMs`: how late membership events reach it. */
  async join(id: string, latencyMs: number, clockOffsetMs: number): Promise<void> {
    const old = this.nodes.get(id);
    if (old && (old.status === 'running' || old.status === 'draining')) throw new Error(`${id} is already running`);
    if (old?.status === 'crashed') {
      this.restartsSoFar++;
      // Within the liveness timeout, as some agent sees it: that agent still counts the old process alive.
      if (this.serving().some((n) => n.tracker.table.get(id) !== undefined)) this.stats.restarts++;
    }
    const clock = this.clock.view(clockOffsetMs);
    const { heartbeatMs, livenessTimeoutMs, settleMs } = this.config;
    // A new process, a new start time (clock views differ, so make sure it differs from the last one's).
    const startedAt = clock.now() === old?.record.startedAt ? clock.now() + 1 : clock.now();
    const record: MemberRecord = { id, url: `ws://${id}.test/ws`, weight: 1, state: 'joining', startedAt, seq: 0 };
    const node: SimNode = {
      id,
      status: 'running',
      record,
      tracker: new TopologyTracker({ settleMs, livenessTimeoutMs, heartbeatMs, clock }, (s) => node.settled.push(s)),
      pacer: new Pacer({ ...this.config.pacing, clock, random: this.random }, (userId) => this.sendReconnect(node, userId)),
      index: await createKeyIndex(undefined, { seed: this.config.ring?.seed ?? 0 }),
      standIns: new Map(),
      fled: new FledNodes(() => clock.now(), DEFAULTS.restartWindowMs),
      ring: await createRing([], this.config.ring),
      applied: undefined,
      settled: [],
      inFlight: 0,
      loseNext: false,
      lastLost: false,
      latencyMs,
      joinedAt: this.clock.now(),
      stopWatch: () => {},
      heartbeatTimer: undefined,
    };
    this.nodes.set(id, node);
    // As the agent does: register, then watch; every event reaches this agent `latencyMs` late, in order.
    await this.membership.put(record);
    node.stopWatch = await this.membership.watch((event) => {
      node.inFlight++;
      clock.setTimeout(() => {
        node.inFlight--;
        node.tracker.handle(event);
        if (event.type === 'put' && event.record.id !== node.id && (node.status === 'running' || node.status === 'draining')) this.returnStandIns(node, event.record);
        // As the agent does: back in touch with the store, refresh its own record at once.
        if (event.type === 'reconnected' && (node.status === 'running' || node.status === 'draining')) this.membership.put(node.record).catch(() => {});
      }, latencyMs);
    });
    const beat = () => {
      if (node.status !== 'running' && node.status !== 'draining') return;
      node.heartbeatTimer = clock.setTimeout(beat, heartbeatMs);
      if (node.loseNext) {
        node.loseNext = false;
        node.lastLost = true;
        return;
      }
      node.lastLost = false;
      node.record.seq++;
      // As the agent does, a write the store refuses (it is down) is simply lost.
      this.membership.put(node.record).catch(() => {});
    };
    node.heartbeatTimer = clock.setTimeout(beat, heartbeatMs);
    await this.flush();
  }

  /** The agent's drain(): mark draining; it deregisters once its users are gone. */
  async drain(id: string): Promise<void> {
    const node = this.live(id);
    node.status = 'draining';
    node.record.state = 'draining';
    await this.membership.put(node.record);
    await this.flush();
  }

  /** The agent's close(): sockets closed with GOING_AWAY, record removed at once. */
  async close(id: string): Promise<void> {
    const node = this.live(id);
    this.stop(node, 'left');
    for (const user of this.usersOn(id)) this.drop(user, { kind: 'bootstrap' });
    await this.membership.remove(id);
    await this.flush();
  }

  /** SIGKILL: sockets die, heartbeats stop, the record stays until every agent times it out. */
  async crash(id: string): Promise<void> {
    const node = this.live(id);
    this.stop(node, 'crashed');
    for (const user of this.usersOn(id)) {
      this.drop(user, { kind: 'failover' });
      this.stats.failovers++;
    }
    await this.flush();
  }

  /** The node's next heartbeat never reaches the store. Never two in a row: that is a longer outage, not one miss. */
  loseHeartbeat(id: string): boolean {
    const node = this.nodes.get(id);
    if (!node || (node.status !== 'running' && node.status !== 'draining') || node.loseNext || node.lastLost) return false;
    node.loseNext = true;
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
    await this.flush();
  }

  // ---- client commands ----

  async connect(userIds: string[]): Promise<void> {
    for (const id of userIds) {
      if (this.users.has(id)) continue;
      this.users.set(id, { id, node: undefined, pending: { kind: 'bootstrap' }, ring: undefined });
    }
    await this.flush();
  }

  async disconnect(userIds: string[]): Promise<void> {
    for (const id of userIds) {
      const user = this.users.get(id);
      if (!user) continue;
      if (user.node) this.detach(user);
      this.users.delete(id);
    }
    await this.flush();
  }

  // ---- time ----

  /** Let `ms` of simulated time pass, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.clock.now() + ms;
    while (this.clock.fireNext(until)) await this.flush();
    this.clock.runUntil(until);
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
    if (!node || (node.status !== 'running' && node.status !== 'draining')) throw new Error(`${id} is not running`);
    return node;
  }

  /** Agents still serving (running or draining). */
  serving(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.status === 'running' || n.status === 'draining');
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
   * members; every user connected once, on its owner, held as a plain owner (no stand-in left).
   */
  checkSettled(): void {
    const serving = this.serving();
    const fingerprints = new Set(serving.map((n) => n.ring.fingerprint));
    if (fingerprints.size !== 1) {
      this.violations.push(`agents disagree after settling: ${serving.map((n) => `${n.id}=${n.ring.fingerprint}`).join(', ')}`);
      return;
    }
    const ring = serving[0].ring;
    const ringIds = ring.nodes.map((n) => n.id).join(',');
    if (ringIds !== this.expectedRingIds().join(',')) this.violations.push(`settled ring holds [${ringIds}], live members are [${this.expectedRingIds().join(',')}]`);
    let held = 0;
    for (const node of serving) {
      held += node.index.size;
      for (const [userId] of node.standIns) this.violations.push(`${userId} is still a stand-in on ${node.id} after settling`);
    }
    if (held !== this.users.size) this.violations.push(`${this.users.size} users, ${held} connections held`);
    for (const user of this.users.values()) {
      if (user.node === undefined) {
        this.violations.push(`${user.id} is not connected after settling`);
        continue;
      }
      if (!this.nodes.get(user.node)?.index.has(user.id)) this.violations.push(`${user.id} thinks it is on ${user.node}, which does not hold it`);
      const owner = ring.owner(user.id);
      if (owner !== user.node) this.violations.push(`${user.id} is on ${user.node}, its owner is ${owner}`);
    }
  }

  /** Stop every timer of every agent (end of a run). */
  shutdown(): void {
    for (const node of this.nodes.values()) if (node.status === 'running' || node.status === 'draining') this.stop(node, 'left');
  }

  // ---- internals: the agent side ----

  /** Apply settled member sets in order (ring builds are async), then let waiting clients connect. */
  private async flush(): Promise<void> {
    for (;;) {
      const node = [...this.nodes.values()].find((n) => n.settled.length > 0 && (n.status === 'running' || n.status === 'draining'));
      if (!node) break;
      await this.apply(node, node.settled.shift() as SettledMembers);
    }
    this.afterStep();
  }

  /** What the agent does with a settled member set: build the ring, plan, promote, queue reconnects. */
  private async apply(node: SimNode, s: SettledMembers): Promise<void> {
    const next = await buildRing(s.members, this.config.ring);
    const prev = node.ring;
    const plan = this.plan({ self: node.id, prev, next, index: node.index, standIns: node.standIns }, this.config.maxPrefs);
    this.stats.plans++;
    this.checkPlan(node, prev, next, plan);
    node.ring = next;
    node.applied = s.signature;
    for (const userId of plan.promoted) {
      node.standIns.delete(userId);
      node.fled.forget(userId);
    }
    this.stats.promoted += plan.promoted.length;
    if (node.record.state === 'joining' && next.nodes.some((n) => n.id === node.id)) {
      node.record.state = 'active';
      this.membership.put(node.record).catch(() => {});
    }
    this.stats.moves += plan.moves.length;
    for (const m of plan.moves) node.pacer.enqueue(m.userId);
  }

  /**
   * Per-plan invariants, against a brute-force oracle over every local user:
   * - a node leaves a ring only if it crashed, left or is draining (a missed heartbeat is not a departure);
   * - an owned user moves exactly when its owner changed and the new owner is another node, to that owner;
   * - a stand-in whose new owner is this node is promoted, never moved (failover then no second move);
   * - a stand-in moves to its new owner unless that is a node it must avoid while this node stays in the ring.
   */
  private checkPlan(node: SimNode, prev: Ring, next: Ring, plan: Plan): void {
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
      if (!node.index.has(m.userId)) this.violations.push(`${node.id} planned ${m.userId}, which it does not hold`);
    }
    if (next.nodes.length === 0) return;
    const selfInNext = nextIds.has(node.id);
    for (const userId of node.index.keys()) {
      const to = moved.get(userId);
      const owner = next.owner(userId);
      const avoid = node.standIns.get(userId);
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

  /** The pacer's turn for a user: the target is decided now, under the latest ring, as the agent does. */
  private sendReconnect(node: SimNode, userId: string): void {
    const user = this.users.get(userId);
    if (!user || user.node !== node.id) return;
    const to = targetOf(node.ring, node.id, userId, node.standIns.get(userId), this.config.maxPrefs);
    if (to === undefined) return;
    const change = this.changeKey(node.ring.fingerprint);
    const counts = this.framesByChange.get(change) ?? new Map<string, number>();
    this.framesByChange.set(change, counts);
    const frames = (counts.get(userId) ?? 0) + 1;
    counts.set(userId, frames);
    if (frames > 1) this.violations.push(`${userId} received ${frames} reconnect frames for one topology change (latest from ${node.id} to ${to})`);
    this.stats.frames++;
    // The client follows the frame: its socket here closes, it heads for `to`.
    this.drop(user, { kind: 'reconnect', target: to });
  }

  /** One change: a ring, and the restarts so far. */
  private changeKey(fingerprint: string): string {
    return `${fingerprint}#${this.restartsSoFar}`;
  }

  /**
   * As the agent does on every member record: if it shows a node that stand-ins here fled back (see
   * FledNodes), they stop avoiding it and go back to it through the pacer.
   */
  private returnStandIns(node: SimNode, record: MemberRecord): void {
    if (this.config.returnStandIns === false) return;
    const back = node.fled.observe(record);
    if (back.length === 0) return;
    for (const userId of back) node.standIns.get(userId)?.delete(record.id);
    const moves = planReturns(node.ring, node.id, back, node.standIns, this.config.maxPrefs);
    for (const m of moves) {
      // The oracle: only a stand-in that fled the restarted node goes, and only to its owner.
      const selfInRing = node.ring.nodes.some((n) => n.id === node.id);
      if (selfInRing && m.to !== node.ring.owner(m.userId)) this.violations.push(`${node.id} sent stand-in ${m.userId} to ${m.to} on ${record.id}'s restart, its owner is ${node.ring.owner(m.userId)}`);
      node.pacer.enqueue(m.userId);
    }
    this.stats.returned += moves.length;
  }

  private stop(node: SimNode, status: 'crashed' | 'left'): void {
    node.status = status;
    node.stopWatch();
    node.tracker.stop();
    node.pacer.stop();
    this.clock.clearTimeout(node.heartbeatTimer);
  }

  /** The user's socket on its node is gone (the agent's onClosed). */
  private detach(user: SimUser): void {
    const node = user.node === undefined ? undefined : this.nodes.get(user.node);
    if (node) {
      node.index.delete(user.id);
      node.standIns.delete(user.id);
      node.fled.forget(user.id);
      node.pacer.cancel(user.id);
    }
    user.node = undefined;
  }

  private drop(user: SimUser, pending: Pending): void {
    this.detach(user);
    user.pending = pending;
  }

  // ---- internals: the fleet and the clients ----

  /** Every serving agent has received every event, applied its current view, and all hold one ring. */
  private agreed(): boolean {
    const serving = this.serving();
    if (serving.length === 0) return false;
    const fingerprint = serving[0].ring.fingerprint;
    return serving.every(
      (n) => n.inFlight === 0 && n.settled.length === 0 && n.applied !== undefined && n.applied === placementSignature(n.tracker.members) && n.ring.fingerprint === fingerprint,
    );
  }

  private quiet(): boolean {
    if (!this.agreed()) return false;
    const serving = this.serving();
    if (serving.some((n) => n.status === 'draining' || n.pacer.pending > 0)) return false;
    if ([...this.users.values()].some((u) => u.pending !== undefined)) return false;
    return serving[0].ring.nodes.map((n) => n.id).join(',') === this.expectedRingIds().join(',');
  }

  /**
   * Clients connect while the fleet agrees on a ring: a client that reaches a node still applying an
   * older ring is told to wait or redirected, and the real client retries; the model lets it arrive
   * when the fleet has caught up. Draining agents with nothing left deregister.
   */
  private afterStep(): void {
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
      if (node.status === 'draining' && outOfRing && node.index.size === 0 && node.pacer.pending === 0) {
        this.stop(node, 'left');
        // If the store is down the record stays behind, and the others time it out as a crash.
        this.membership.remove(node.id).catch(() => {});
      }
    }
  }

  /** The client's connect loop: preference list under its topology, unreachable nodes skipped, one redirect per attempt at most. */
  private land(user: SimUser, pending: Pending): void {
    if (pending.kind === 'bootstrap' || user.ring === undefined) user.ring = this.serving()[0].ring;
    const unreachable: string[] = [];
    let target = pending.kind === 'reconnect' ? pending.target : undefined;
    let redirects = 0;
    for (let attempt = 0; attempt < 32; attempt++) {
      if (target === undefined) {
        const prefs = user.ring.owners(user.id, Math.min(user.ring.nodes.length, this.config.maxPrefs));
        target = prefs.find((id) => !unreachable.includes(id));
        if (target === undefined) {
          // Nobody it knows answers: refetch the topology and start over.
          user.ring = this.serving()[0].ring;
          unreachable.length = 0;
          continue;
        }
      }
      const node = this.nodes.get(target);
      if (!node || (node.status !== 'running' && node.status !== 'draining')) {
        unreachable.push(target);
        // A node it heard of from a frame or a redirect, not from its topology: its topology is stale.
        if (!user.ring.nodes.some((n) => n.id === target)) user.ring = this.serving()[0].ring;
        target = undefined;
        redirects = 0;
        continue;
      }
      const prefs = user.ring.owners(user.id, Math.min(user.ring.nodes.length, this.config.maxPrefs));
      const decision = decideAdmission({
        self: node.id,
        draining: node.status === 'draining',
        ring: node.ring,
        epoch: 0,
        knownEpoch: 0,
        userId: user.id,
        clientEpoch: undefined,
        unreachable: unreachable.filter((id) => prefs.includes(id)),
        alreadyHere: false,
        full: false,
        maxPrefs: this.config.maxPrefs,
      });
      if (decision.kind === 'accept') {
        user.node = node.id;
        user.pending = undefined;
        user.ring = node.ring;
        node.index.add(user.id);
        if (decision.standIn) {
          node.standIns.set(user.id, new Set(decision.avoid));
          node.fled.hold(user.id, decision.avoid);
          this.stats.standIns++;
        }
        return;
      }
      if (decision.kind === 'refuse') {
        this.violations.push(`${node.id} refused ${user.id} (${decision.reason}) while the fleet agreed on a ring`);
        return;
      }
      redirects++;
      this.stats.redirects++;
      if (redirects > 1) {
        this.violations.push(`${user.id} was redirected ${redirects} times in a row (last by ${node.id} to ${decision.to})`);
        return;
      }
      target = decision.to;
    }
    this.violations.push(`${user.id} found no node to connect to`);
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
