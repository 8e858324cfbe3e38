// The reconnect wave over time, in ticks of `tickMs`, for two ways of changing the fleet:
//  - targeted: each node's agent queues exactly the users that move (the plan's flows); each waits U(0, jitterMs),
//    then its agent's pacer lets its reconnect frame go. Under the `receiver-budget` policy (today's agents) that is
//    the agent's Pacer: a lane per receiver at this sender's share of the receiver's declared acceptRate (laneBurst
//    deep), the sender's own bucket (ratePerSec, burst) on top: the agent's LaneSchedule itself (see LanePacer). Under `per-sender` (the agents
//    before receiver budgets) one token bucket of `ratePerSec` per agent (depth `burst`), split over destinations in
//    proportion to what is queued. The client closes and connects straight to its new node. A crashed node's users
//    drop at once and fail over to their new owner with the client's backoff.
//  - lb: a load balancer without affinity; the change drops users (everyone, or those of leaving nodes) and they
//    come back through the balancer with exponential backoff and full jitter.
// Deploys that keep the ring (a step with `deploy`): a handoff is one paced flow from the node to itself (its old
// process sends, its successor receives: one lane at the node's declared acceptRate under the sender ceiling, the
// old process's pacer; the successor starts with a fresh one); a restart in place closes every user of the node
// with a `restart` frame whose delay is its slot (restartBackInMs + i / acceptRate, the agent's arithmetic, cut at
// the protocol's MAX_RESTART_DELAY_MS), the node is down until its new process serves (restartTakesMs, by default
// restartBackInMs as planned), and each user arrives at its slot. A user that reaches a node while it is down (its slot
// came first, or it ignored the restart frame and came back at once) is refused, and the next node of its preference
// list takes it as a stand-in (stand-ins.ts); once the new process serves the stand-ins send those users back, paced
// like any move (FledNodes, planReturns): they move twice. Past the fleet's hold of the node (restart-hold.ts) the
// ring drops it; its users stay on their stand-ins, now their owners, until the process serves and joins again.
// Through the balancer (lb) both drop the node's users; a restarted node is down until its new process serves.
// Both share one model of a node: it accepts `acceptPerSec` connection attempts a second; attempts beyond that
// are refused and the client retries with its next backoff. In targeted runs an attempt the node accepts then waits
// at its agent's admission gate (receiver-gate.ts, admissionWaitMs > 0) for a turn at the rate the node declares now,
// or until its wait runs out (an overflow); the balancer's nodes have no agent, so no gate. Counts are integers and
// every user is always either connected to one node (a stand-in's users included), reconnecting (scheduled to arrive
// somewhere), restarting (waiting for its restart slot) or admitting (accepted, waiting at a gate), so
// connected + reconnecting + restarting + admitting == total.
import { MAX_RESTART_DELAY_MS } from '@wsring/protocol';
import { apportion, leastConnections } from './baselines.js';
import { balanceOf } from './balance.js';
import { flowSplit, type BudgetSplit } from './budget-split.js';
import { LanePacer } from './lane-pacer.js';
import { ReceiverGate, type GateAdmit } from './receiver-gate.js';
import { warmingRate } from '@wsring/node-agent/internal';
import { DEFAULTS as AGENT } from '@wsring/node-agent';
import { Rng } from './rng.js';
import type { FailoverFlow } from './failover.js';
import { restartHoldMs } from './restart-hold.js';
import { StandIns, type StandInSplit } from './stand-ins.js';
import { restartTakesOf } from './storm-params.js';
import type { DeployOf, Departure, Overload, ReceiverSummary, RestartFailover, SimNode, StepSpec, StormMode, StormModeResult, StormParams, StormStepSummary } from './types.js';

/** A new process (a joiner, a handoff successor) begins serving this long before the fleet applies the step: a settle window. */
export const SERVES_BEFORE_STEP_MS = AGENT.settleMs;

/** A node's accept rate: its own (`nodeAcceptPerSec`) or the fleet's `acceptPerSec`. */
export function acceptRateOf(p: StormParams, id: string): number {
  return p.nodeAcceptPerSec[id] ?? p.acceptPerSec;
}

/** The acceptRate a node's agent declares: its own (`nodeAcceptRate`) or the fleet's `acceptRate`. */
export function declaredRateOf(p: StormParams, id: string): number {
  return p.nodeAcceptRate[id] ?? p.acceptRate;
}

export interface StormStep {
  label: string;
  kind: StepSpec['kind'];
  departure: Departure;
  before: SimNode[];
  after: SimNode[];
  /** Exact users moving between nodes in this step (from the plan). */
  flows: { from: string; to: string; users: number }[];
  /** How the senders split their receivers' budgets (receiver-budget); absent: in proportion to the users they carry. */
  split?: BudgetSplit;
  /** A handoff or restart-in-place deploy of one node: the model sends that node's users itself (see above). */
  deploy?: DeployOf;
  /**
   * A restart in place: how the node's users would spread over the other nodes while it is down (failover.ts), asked
   * only if one fails over. Absent: over the other nodes of the fleet in proportion to their weights.
   */
  failover?: () => readonly FailoverFlow[];
}

export interface StormInput {
  /** Users per node at the start, for the first step's fleet. */
  initialLoads: Record<string, number>;
  steps: StormStep[];
}

/** What the observer sees after every tick. */
export interface TickState {
  tick: number;
  /** Users connected to some node (sum over nodes). */
  connected: number;
  /** Users between two connections (not those waiting for a restart slot). */
  reconnecting: number;
  /** Users closed by a restart in place, waiting for their slot. */
  restarting: number;
  /** Connected users still waiting for their reconnect frame (jitter or token; counted in `connected`). */
  queued: number;
  /** Users of a restarted node held by stand-ins until they may go back (counted in `connected`). */
  standIns: number;
  /** Users a node accepted that wait at its admission gate (targeted runs with admissionWaitMs > 0). */
  admitting: number;
}

/** Target of scheduled arrivals: a node index, or the load balancer. */
const LB = -1;
/** Packs (from, to) node indices into one map key. */
const FLOW_KEY = 2 ** 20;

interface Pending {
  target: number;
  level: number;
  count: number;
  /** A user of a restarted node: the node it belongs to (a stand-in's arrival, or its own on the way back); else -1. */
  owner: number;
}

/** Ticks from now until `ms` have passed (at least one). */
function ticksFor(ms: number, tickMs: number): number {
  return Math.max(1, Math.ceil(ms / tickMs));
}

class Model {
  readonly ids: string[] = [];
  private readonly index = new Map<string, number>();
  connected: number[] = [];
  weight: number[] = [];
  up: boolean[] = [];
  private acceptTokens: number[] = [];
  private acceptAt: number[] = [];
  /** Ring buffer of future ticks: arrivals keyed by target * LEVELS + level. */
  private readonly slots: Map<number, number>[];
  private readonly levels: number;
  reconnecting = 0;
  /** Users waiting for their restart slot: absolute tick -> node -> users arriving then. */
  private readonly restartReturns = new Map<number, Map<number, number>>();
  restarting = 0;
  /** What happens to restarted nodes at an absolute tick: a new process serves, the ring drops or takes back the node. */
  private readonly events = new Map<number, (() => void)[]>();
  /** Restarted nodes whose new process has not served yet: a step starting meanwhile leaves them down. */
  private readonly notServing = new Set<number>();
  /**
   * Restarted nodes that do not take their users: down (the ring holds the node, no process serves), or dropped (its
   * hold ran out: out of the ring until its process serves and joins again).
   */
  private readonly away = new Set<number>();
  /** Users of restarted nodes held by stand-ins, and where arrivals at a down node go. */
  readonly standIns: StandIns;
  /** Each restart's stand-ins (step.failover), by node, until its first failover asks. */
  private readonly failovers = new Map<number, (() => readonly FailoverFlow[]) | undefined>();
  /** Users sent back to a restarted node still queued at their stand-in: key from * FLOW_KEY + to. */
  private readonly returnsQueued = new Map<number, number>();
  /** A node back in the ring after its hold ran out: each stand-in's fraction of its declared rate (the join's split). */
  private readonly rejoined = new Map<number, Map<number, number>>();
  /** When each restarted node's process served, and when the ring dropped it (absolute ms). */
  readonly servedAtMs = new Map<number, number>();
  readonly droppedAtMs = new Map<number, number>();
  /** This step: the first frame sent to each receiver (absolute ms), and what each accepted (count, last tick). */
  firstFrame = new Map<number, number>();
  accepted = new Map<number, { count: number; lastTick: number }>();
  /** Users of this step closed with a restart frame. */
  restarted = 0;
  /** Users still in their jitter wait, by tick: key from * FLOW_KEY + to. */
  private readonly waitSlots: Map<number, number>[];
  waiting = 0;
  /** Pacers: sender -> destination -> users past their jitter, waiting for a token. */
  private readonly queues = new Map<number, Map<number, number>>();
  /** Each agent's token bucket lives as long as the agent: tokens and the tick they were counted at (per-sender). */
  private readonly pacerTokens = new Map<number, { tokens: number; at: number }>();
  /** Each agent's pacer under receiver budgets; it lives as long as the agent, lanes included. */
  private readonly lanePacers = new Map<number, LanePacer>();
  /** This step's share of `to`'s declared acceptRate that `from` paces at (receiver-budget). */
  private shareOf: (from: number, to: number) => number = () => 1;
  /** When each node's process began serving (ms; -Infinity: before the run): it warms up from then. */
  private readonly servingSince: number[] = [];
  /** Each warming node's last heartbeat step (age / heartbeatMs): a new one re-rates the lanes. */
  private readonly warmBeat: number[] = [];
  /** The model's time now, ms (the tick's start). */
  private nowMs = 0;
  private readonly sentSoFar = new Map<number, number>();
  queued = 0;
  /** Users who ignored their frame: closed at `tick` (`back` of them on their way back to a restarted node). FIFO because graceMs is constant. */
  private readonly closes: { tick: number; from: number; to: number; count: number; back: number }[] = [];
  private rrCursor = 0;
  /** Counters for the current step and the current second. */
  disconnects = 0;
  /** Restart in place: users that ignored their restart frame, users a stand-in took, users back on their node. */
  ignoredRestart = 0;
  failedOver = 0;
  movedTwice = 0;
  refused = 0;
  arrivalsThisSecond: number[] = [];
  refusedThisSecond: number[] = [];
  /** Each node's accept rate: its own (nodeAcceptPerSec) or the fleet's acceptPerSec. */
  accept: number[] = [];
  /** Each node's admission gate (targeted runs with admissionWaitMs > 0), and the users waiting at them all. */
  readonly gates: (ReceiverGate | undefined)[] = [];
  admitting = 0;

  /** @param gated whether the receivers have their agents' admission gate (targeted runs, admissionWaitMs > 0). */
  constructor(private readonly p: StormParams, private readonly rng: Rng, private readonly gated = false) {
    const longest = Math.max(p.jitterMs, p.backoffCapMs) + 2 * p.rttMs + 2 * p.tickMs;
    this.slots = Array.from({ length: Math.ceil(longest / p.tickMs) + 2 }, () => new Map());
    this.waitSlots = Array.from({ length: Math.ceil(p.jitterMs / p.tickMs) + 2 }, () => new Map());
    this.levels = Math.ceil(Math.log2(p.backoffCapMs / p.backoffBaseMs)) + 2;
    this.standIns = new StandIns((owner) => this.standInSplit(owner));
  }

  node(id: string, weight: number): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.index.set(id, i);
      this.ids.push(id);
      this.connected.push(0);
      this.weight.push(weight);
      this.up.push(false);
      this.acceptTokens.push(0);
      this.acceptAt.push(-1);
      this.arrivalsThisSecond.push(0);
      this.refusedThisSecond.push(0);
      this.accept.push(acceptRateOf(this.p, id));
      this.servingSince.push(-Infinity);
      this.warmBeat.push(-1);
      // A node of the first fleet has served a while: its gate's bucket is full. A joiner's is fresh (beginsServing).
      this.gates.push(this.gated ? new ReceiverGate(declaredRateOf(this.p, id), this.p.admissionWaitMs, this.p.tickMs, 0, false) : undefined);
    }
    this.weight[i] = weight;
    return i;
  }

  indexOf(id: string): number {
    return this.index.get(id)!;
  }

  get busy(): boolean {
    return this.reconnecting > 0 || this.waiting > 0 || this.queued > 0 || this.closes.length > 0 || this.restarting > 0 || this.events.size > 0 || this.admitting > 0;
  }

  /** Whether node `i`'s new process is still to serve (a step starting meanwhile must not bring it up). */
  awaitsProcess(i: number): boolean {
    return this.notServing.has(i);
  }

  /** Whether a user reaching node `i` now is taken there (or by the balancer's choice): it serves, and is in the ring. */
  private takes(i: number): boolean {
    return this.up[i] && !this.away.has(i);
  }

  private at(tick: number, event: () => void): void {
    const list = this.events.get(tick);
    if (list) list.push(event);
    else this.events.set(tick, [event]);
  }

  /** A frame (reconnect or restart) sends users to `to` at absolute ms `at`. */
  private framed(to: number, at: number): void {
    const seen = this.firstFrame.get(to);
    if (seen === undefined || at < seen) this.firstFrame.set(to, at);
  }

  /** Node `i` is down from tick `t` and serves again `ms` later (a restart in place, through the balancer). */
  downFor(t: number, i: number, ms: number): void {
    this.up[i] = false;
    this.notServing.add(i);
    const at = t + ticksFor(ms, this.p.tickMs);
    this.at(at, () => this.serves(i, at * this.p.tickMs));
  }

  /** Node `i`'s new process serves from `ms`: it warms up from then, as every new process does (Agent.start). */
  private serves(i: number, ms: number): void {
    this.up[i] = true;
    this.notServing.delete(i);
    this.servedAtMs.set(i, ms);
    this.beginsServing(i, ms);
  }

  /**
   * Restart in place of node `i` (targeted) at tick `t`, its `count` users slotted at `acceptRate`: its new process
   * serves restartTakesOf(p) later. The fleet holds the node for restartHoldMs; a process that serves within it finds
   * the ring as it was, and the stand-ins send their users back at once (FledNodes.observe: a new incarnation). Past
   * it the ring drops the node, and takes it back when its process serves: one settle window later (a join) the
   * stand-ins, now owners, send them back at the join's split. (The process's record arrives a little before it
   * serves; the model compares the serving with the hold.)
   */
  restartInPlace(t: number, i: number, count: number, acceptRate: number, failover: (() => readonly FailoverFlow[]) | undefined): void {
    const p = this.p;
    const tk = p.tickMs;
    this.up[i] = false;
    this.notServing.add(i);
    this.away.add(i);
    this.failovers.set(i, failover);
    this.standIns.forget(i);
    const takesMs = restartTakesOf(p);
    const holdMs = restartHoldMs(count, acceptRate, p.restartBackInMs);
    // Each happens within a tick, and that tick's arrivals see it: the model does not order arrivals within a tick,
    // and the slots are quantized the same way, so a user whose slot is at or after the moment never misses it.
    const tickOf = (ms: number) => t + Math.max(1, Math.floor(ms / tk));
    const serves = tickOf(takesMs);
    // The step is not over before the tick boundary after the process served (as through the balancer, downFor).
    this.at(t + ticksFor(takesMs, tk), () => {});
    this.restart(t, i, count, acceptRate);
    if (takesMs <= holdMs) {
      this.at(serves, () => {
        this.serves(i, t * tk + takesMs);
        this.away.delete(i);
        this.sendBack(serves, i);
      });
      return;
    }
    this.at(tickOf(holdMs), () => this.droppedAtMs.set(i, t * tk + holdMs));
    this.at(serves, () => this.serves(i, t * tk + takesMs));
    // The fleet takes a new member into the ring one settle window after its process serves (as for any joiner).
    const joins = tickOf(takesMs + SERVES_BEFORE_STEP_MS);
    this.at(joins, () => {
      this.away.delete(i);
      // The join's receiverShares: each stand-in hands the node the hash space it took, so its fraction of the rate is
      // its part of the node's users; every agent re-rates its lanes for the new ring.
      this.rejoined.set(i, this.standIns.fractions(i));
      for (const pacer of this.lanePacers.values()) pacer.rerate(joins * tk);
      this.sendBack(joins, i);
    });
  }

  /** The stand-ins of `owner` send every user they hold for it back to it at tick `t`, paced like any move. */
  private sendBack(t: number, owner: number): void {
    for (const [from, n] of this.standIns.release(owner)) this.sendBackFrom(t, from, owner, n);
  }

  private sendBackFrom(t: number, from: number, owner: number, n: number): void {
    const key = from * FLOW_KEY + owner;
    this.returnsQueued.set(key, (this.returnsQueued.get(key) ?? 0) + n);
    this.prepare(t, from, owner, n);
  }

  /**
   * Where arrivals at `owner` go while it is down: the step's failover flows (failover.ts), or else the other live
   * nodes in proportion to their weights (the share of the ring each holds, which is what its successors take on
   * average). A fleet of one has none: its clients back off.
   */
  private standInSplit(owner: number): StandInSplit {
    const flows = this.failovers.get(owner)?.();
    if (flows) {
      const known = flows.filter((f) => this.index.has(f.to) && f.users > 0);
      return { to: known.map((f) => this.indexOf(f.to)), weights: known.map((f) => f.users) };
    }
    const live = this.ids.map((_, i) => i).filter((i) => i !== owner && this.takes(i));
    return { to: live, weights: live.map((i) => this.weight[i]) };
  }

  /**
   * Restart in place of node `i` at tick `t` (Agent.restartInPlace): each of its `count` users gets a `restart` frame
   * now, the k-th with retryAfterMs = restartBackInMs + floor(k * 1000 / acceptRate) (the client cuts it at
   * MAX_RESTART_DELAY_MS), and is closed 4005; it comes back to the node after its delay (the frame takes rtt/2, the
   * connection one rtt more). Until then it is restarting: disconnected with a known return. A client that ignores
   * the frame (ignorePct, spread evenly over the slots) has none: closed 4005 without a delay it comes back at once
   * with the usual backoff (comeBack), a reconnecting user.
   */
  restart(t: number, i: number, count: number, acceptRate: number): void {
    if (count <= 0) return;
    const p = this.p;
    const ignores = (k: number) => Math.floor(((k + 1) * p.ignorePct) / 100) > Math.floor((k * p.ignorePct) / 100);
    let ignoring = 0;
    for (let k = 0; k < count; k++) if (ignores(k)) ignoring++;
    this.connected[i] -= count;
    this.disconnects += count;
    this.restarted += count - ignoring;
    this.restarting += count - ignoring;
    this.ignoredRestart += ignoring;
    this.framed(i, t * p.tickMs);
    this.schedule(t, i, 0, ignoring, 1.5 * p.rttMs, this.backoffMs(0));
    for (let k = 0; k < count; k++) {
      if (ignores(k)) continue;
      const delay = Math.min(p.restartBackInMs + Math.floor((k * 1000) / acceptRate), MAX_RESTART_DELAY_MS);
      const at = t + Math.max(1, Math.floor((delay + 1.5 * p.rttMs) / p.tickMs));
      let due = this.restartReturns.get(at);
      if (!due) this.restartReturns.set(at, (due = new Map()));
      due.set(i, (due.get(i) ?? 0) + 1);
    }
  }

  /** What happens to restarted nodes now (their new process serves, ...); the users whose slot is now connect to their node. */
  private returns(t: number): void {
    const events = this.events.get(t);
    if (events) {
      this.events.delete(t);
      for (const event of events) event();
    }
    const due = this.restartReturns.get(t);
    if (!due) return;
    this.restartReturns.delete(t);
    const slot = this.slots[t % this.slots.length];
    for (const [i, n] of due) {
      this.restarting -= n;
      this.reconnecting += n;
      const key = i * this.levels;
      slot.set(key, (slot.get(key) ?? 0) + n);
    }
  }

  /**
   * `count` users start reconnecting now towards `target`, arriving over [now + lo, now + lo + span] ms; `owner`: the
   * restarted node they belong to (see Pending), kept in the key above every plain arrival's, which stays as it was.
   */
  schedule(tick: number, target: number, level: number, count: number, loMs: number, spanMs: number, owner = -1): void {
    if (count <= 0) return;
    this.reconnecting += count;
    const key = owner < 0 ? target * this.levels + level : ((owner + 1) * FLOW_KEY + target) * this.levels + level;
    this.spread(this.slots, tick, key, count, loMs, spanMs, 1);
  }

  /** A paced move: `count` users of `from` become ready for a frame over the next jitterMs. */
  prepare(tick: number, from: number, to: number, count: number): void {
    if (count <= 0) return;
    this.waiting += count;
    this.spread(this.waitSlots, tick, from * FLOW_KEY + to, count, 0, this.p.jitterMs, 0);
  }

  /**
   * Adds `count` to `slots` under `key`, spread evenly over the ticks of [now + lo, now + lo + span] ms (at least
   * `minOffset` ticks ahead), the remainder on distinct random ticks: the expected value of uniform draws, in integers.
   */
  private spread(slots: Map<number, number>[], tick: number, key: number, count: number, loMs: number, spanMs: number, minOffset: number): void {
    const tk = this.p.tickMs;
    const first = Math.max(minOffset, Math.floor(loMs / tk));
    const last = Math.max(first, Math.min(slots.length - 1, Math.floor((loMs + spanMs) / tk)));
    const width = last - first + 1;
    const each = Math.floor(count / width);
    let extra = count - each * width;
    const add = (offset: number, n: number) => {
      if (n === 0) return;
      const slot = slots[(tick + offset) % slots.length];
      slot.set(key, (slot.get(key) ?? 0) + n);
    };
    if (each > 0) for (let o = first; o <= last; o++) add(o, each);
    // The remainder lands on distinct random ticks of the window (a partial shuffle).
    if (extra > 0) {
      const picked = new Set<number>();
      while (extra > 0) {
        const o = first + this.rng.int(width);
        if (picked.has(o)) continue;
        picked.add(o);
        add(o, 1);
        extra--;
      }
    }
  }

  /** Full-jitter backoff window of attempt `level`. */
  backoffMs(level: number): number {
    return Math.min(this.p.backoffCapMs, this.p.backoffBaseMs * 2 ** level);
  }

  /** Users of `from` drop now and come back through `target` after the first backoff (`owner`: see schedule). */
  drop(tick: number, from: number, target: number, count: number, owner = -1): void {
    if (count <= 0) return;
    this.connected[from] -= count;
    this.disconnects += count;
    this.schedule(tick, target, 0, count, this.p.rttMs, this.backoffMs(0), owner);
  }

  /**
   * A new step under receiver budgets, starting at tick `t`: every agent takes its shares of this change (the agents'
   * receiverShares at the rates the nodes declare; a lane the change does not cover takes the fallback share), and
   * re-rates the lanes it has (Pacer.rerate).
   */
  beginStep(t: number, split: BudgetSplit): void {
    // Shares are linear in the receivers' rates: the split at rate 1 is each sender's fraction, taken of what the
    // receiver declares now (a warming node declares more with each heartbeat).
    const fractions = new Map<number, Map<string, number>>();
    this.shareOf = (from, to) => {
      let mine = fractions.get(from);
      if (!mine) fractions.set(from, (mine = split.shares(this.ids[from], () => 1)));
      const declared = this.declaredNow(to);
      const back = this.rejoined.get(to)?.get(from);
      if (back !== undefined) return back * declared;
      const fraction = mine.get(this.ids[to]);
      return fraction !== undefined && fraction > 0 ? fraction * declared : split.fallback(this.ids[to], declared);
    };
    this.nowMs = t * this.p.tickMs;
    // A node back in the ring after its hold ran out was a change of its own; this one replaces it.
    this.rejoined.clear();
    for (const pacer of this.lanePacers.values()) pacer.rerate(this.nowMs);
  }

  /** A node's process begins serving at `ms` (a joiner, a handoff successor): it warms up from then. */
  beginsServing(i: number, ms: number): void {
    this.servingSince[i] = ms;
    this.warmBeat[i] = -1;
    // A new process: a new gate (its bucket holds one burst), from the tick it began serving in.
    this.gates[i]?.restart(Math.max(0, Math.floor(ms / this.p.tickMs)));
  }

  /** What node `i` declares now: its acceptRate, warming up after its process began serving, as its last heartbeat said. */
  private declaredNow(i: number): number {
    const rate = declaredRateOf(this.p, this.ids[i]);
    const age = this.nowMs - this.servingSince[i];
    if (!(age < this.p.warmupMs)) return rate;
    return warmingRate(rate, Math.floor(Math.max(0, age) / this.p.heartbeatMs) * this.p.heartbeatMs, this.p.warmupMs);
  }

  /** A warming node's heartbeat says a new rate: every sender re-rates its lanes (Rebalancer.membersChanged). */
  private rerateWarming(): void {
    let changed = false;
    for (let i = 0; i < this.ids.length; i++) {
      const age = this.nowMs - this.servingSince[i];
      if (!(age >= 0 && age < this.p.warmupMs + this.p.heartbeatMs)) continue;
      const beat = Math.floor(age / this.p.heartbeatMs);
      if (beat !== this.warmBeat[i]) {
        this.warmBeat[i] = beat;
        changed = true;
      }
    }
    if (changed) for (const pacer of this.lanePacers.values()) pacer.rerate(this.nowMs);
  }

  private enqueue(from: number, to: number, count: number, t: number): void {
    if (count <= 0) return;
    this.queued += count;
    if (this.p.policy === 'receiver-budget') {
      const now = t * this.p.tickMs;
      let pacer = this.lanePacers.get(from);
      if (!pacer) this.lanePacers.set(from, (pacer = new LanePacer(this.p.ratePerSec, this.p.burst, now, (to) => this.shareOf(from, to))));
      pacer.enqueue(to, count, now, this.sender(from, t));
      return;
    }
    let q = this.queues.get(from);
    if (!q) this.queues.set(from, (q = new Map()));
    q.set(to, (q.get(to) ?? 0) + count);
  }

  /** Frames agents sent in the current tick (receiver-budget), per sender: receiver * tickMs + ms into the tick -> frames. */
  private readonly sentThisTick = new Map<number, Map<number, number>>();

  /** Where `from`'s pacer reports a frame going at ms `at` of tick `t`. */
  private sender(from: number, t: number): (to: number, at: number) => void {
    const tk = this.p.tickMs;
    const start = t * tk;
    let sent = this.sentThisTick.get(from);
    if (!sent) this.sentThisTick.set(from, (sent = new Map()));
    const batch = sent;
    return (to, at) => {
      const key = to * tk + (at - start);
      batch.set(key, (batch.get(key) ?? 0) + 1);
    };
  }

  /** `n` frames of `from` for `to` go at tick `t`, `delayMs` into it: obeying clients leave, the others are closed after graceMs. */
  private dispatch(t: number, from: number, to: number, n: number, delayMs: number): void {
    const p = this.p;
    this.queued -= n;
    // Deterministic share of clients that ignore the frame.
    const before = this.sentSoFar.get(from) ?? 0;
    const ignoring = Math.floor(((before + n) * p.ignorePct) / 100) - Math.floor((before * p.ignorePct) / 100);
    this.sentSoFar.set(from, before + n);
    const obeying = n - ignoring;
    this.framed(to, t * p.tickMs + delayMs);
    // Users on their way back to a restarted node share the lane with any other user for it: the first frames are theirs.
    const back = this.takeReturns(from, to, n);
    const obeyingBack = Math.min(obeying, back);
    if (obeying > 0) {
      // The frame reaches the client after rtt/2; it closes and connects at once, arriving one rtt later.
      this.connected[from] -= obeying;
      this.disconnects += obeying;
      this.schedule(t, to, 0, obeying - obeyingBack, delayMs + 1.5 * p.rttMs, 0);
      this.schedule(t, to, 0, obeyingBack, delayMs + 1.5 * p.rttMs, 0, to);
    }
    if (ignoring > 0) this.closes.push({ tick: t + Math.max(1, Math.ceil(p.graceMs / p.tickMs)), from, to, count: ignoring, back: back - obeyingBack });
  }

  /** Of `n` frames from `from` to `to`, those for users sent back to `to` after a restart (at most what is queued). */
  private takeReturns(from: number, to: number, n: number): number {
    const key = from * FLOW_KEY + to;
    const queued = this.returnsQueued.get(key);
    if (queued === undefined) return 0;
    const back = Math.min(n, queued);
    if (queued === back) this.returnsQueued.delete(key);
    else this.returnsQueued.set(key, queued - back);
    return back;
  }

  /** Receiver budgets: every agent's pacer runs through this tick; its frames go in batches per receiver and ms. */
  private paceLanes(t: number): void {
    const tk = this.p.tickMs;
    for (const [from, pacer] of this.lanePacers) if (pacer.awake) pacer.run((t + 1) * tk, this.sender(from, t));
    for (const [from, sent] of this.sentThisTick) for (const [key, n] of sent) this.dispatch(t, from, Math.floor(key / tk), n, key % tk);
    this.sentThisTick.clear();
  }

  tick(t: number): void {
    const p = this.p;
    this.nowMs = t * p.tickMs;
    this.returns(t);
    // Clients that ignored their frame are closed at the end of the grace period.
    while (this.closes.length > 0 && this.closes[0].tick <= t) {
      const c = this.closes.shift()!;
      this.drop(t, c.from, c.to, c.count - c.back);
      this.drop(t, c.from, c.to, c.back, c.to);
    }
    // Users whose jitter wait ends now join their agent's queue.
    const ready = this.waitSlots[t % this.waitSlots.length];
    for (const [key, count] of ready) {
      this.waiting -= count;
      this.enqueue(Math.floor(key / FLOW_KEY), key % FLOW_KEY, count, t);
    }
    ready.clear();
    if (p.policy === 'receiver-budget') {
      if (p.warmupMs > 0) this.rerateWarming();
      this.paceLanes(t);
    }
    // Per-sender pacers: each agent sends what its token bucket allows, spread over destinations in proportion.
    for (const [from, q] of this.queues) {
      // An agent that never sent has a full bucket.
      const bucket = this.pacerTokens.get(from) ?? { tokens: p.burst, at: t };
      const tokens = Math.min(p.burst, bucket.tokens + ((t - bucket.at) * p.ratePerSec * p.tickMs) / 1000);
      const pending = [...q.values()].reduce((a, b) => a + b, 0);
      const send = Math.min(Math.floor(tokens), pending);
      this.pacerTokens.set(from, { tokens: tokens - send, at: t });
      if (send === 0) continue;
      const dests = [...q.keys()];
      const split = apportion(send, dests.map((d) => q.get(d)!));
      dests.forEach((to, i) => {
        const n = split[i];
        if (n === 0) return;
        const left = q.get(to)! - n;
        if (left === 0) q.delete(to);
        else q.set(to, left);
        this.dispatch(t, from, to, n, 0);
      });
      if (q.size === 0) this.queues.delete(from);
    }
    if (this.admitting > 0) this.admitAtGates(t);
    // Arrivals due now: the balancer picks nodes first; then each node accepts what its rate allows.
    const slot = this.slots[t % this.slots.length];
    if (slot.size === 0) return;
    const due: Pending[] = [];
    for (const [key, count] of slot) {
      // Plain arrivals keep their key (target * levels + level); those of a restarted node's users sit above them.
      const rest = Math.floor(key / this.levels);
      const level = key - rest * this.levels;
      const plain = rest < FLOW_KEY;
      due.push({ target: plain ? rest : rest % FLOW_KEY, level, count, owner: plain ? -1 : Math.floor(rest / FLOW_KEY) - 1 });
    }
    slot.clear();
    const atNode = new Map<number, Pending[]>();
    for (const d of due) {
      this.reconnecting -= d.count;
      if (d.target !== LB && !this.takes(d.target)) {
        this.failOver(t, d);
        continue;
      }
      if (d.target === LB && !this.up.some((u) => u)) {
        // No node serves (the only one restarts): the balancer has nowhere to send them; they try again later.
        const level = Math.min(d.level + 1, this.levels - 1);
        this.schedule(t, LB, level, d.count, this.p.rttMs, this.backoffMs(level));
        continue;
      }
      const spread = d.target === LB ? this.balance(d.count) : [[d.target, d.count] as const];
      for (const [node, count] of spread) {
        if (count === 0) continue;
        let list = atNode.get(node);
        if (!list) atNode.set(node, (list = []));
        list.push({ target: d.target, level: d.level, count, owner: d.owner });
      }
    }
    for (const [node, list] of atNode) {
      const budget = this.acceptBudget(node, t);
      let accepted = 0;
      // Clients that have retried longest get the free slots first (the order only decides who backs off further).
      list.sort((a, b) => b.level - a.level);
      for (const d of list) {
        this.arrivalsThisSecond[node] += d.count;
        const ok = Math.min(d.count, budget - accepted);
        accepted += ok;
        const gate = this.gates[node];
        if (gate) {
          this.admitting += ok;
          gate.setRate(t, this.declaredNow(node));
          gate.enter(t, d.owner, ok, this.admitter(t, node));
        } else this.admit(t, node, d.owner, ok);
        const refused = d.count - ok;
        if (refused > 0) {
          this.refused += refused;
          this.refusedThisSecond[node] += refused;
          const level = Math.min(d.level + 1, this.levels - 1);
          this.schedule(t, d.target, level, refused, p.rttMs, this.backoffMs(level), d.owner);
        }
      }
      this.acceptTokens[node] -= accepted;
    }
  }

  /** `n` users (of restarted node `owner`, or -1) are connected to `node` from tick `t`: accepted, or admitted at its gate. */
  private admit(t: number, node: number, owner: number, n: number): void {
    this.connected[node] += n;
    if (n <= 0) return;
    const a = this.accepted.get(node);
    if (a) {
      a.count += n;
      a.lastTick = t;
    } else this.accepted.set(node, { count: n, lastTick: t });
    if (owner >= 0) this.restartedUserArrived(t, node, owner, n);
  }

  /** What node `node`'s gate lets through at tick `t` connects there. */
  private admitter(t: number, node: number): GateAdmit {
    return (owner, n) => {
      this.admitting -= n;
      this.admit(t, node, owner, n);
    };
  }

  /**
   * The gates' turns and overflows at tick `t`, at the rate each node declares now. A node that went down meanwhile
   * (a crash, a restart of a step that did not settle) closes the sockets waiting at it: they reconnect to it, as
   * dropped users do, and fail over if it is still away.
   */
  private admitAtGates(t: number): void {
    this.gates.forEach((gate, node) => {
      if (!gate || gate.waiting === 0) return;
      if (!this.takes(node)) {
        for (const w of gate.flush()) {
          this.admitting -= w.count;
          this.schedule(t, node, 0, w.count, this.p.rttMs, this.backoffMs(0), w.owner);
        }
        return;
      }
      gate.setRate(t, this.declaredNow(node));
      gate.drain(t, this.admitter(t, node));
    });
  }

  /**
   * Users reaching node `d.target` while it is down (or out of the ring): refused at once, each marks it unreachable
   * and connects to the next node of its list (onConnectFailed), arriving a round trip later; the attempt never
   * reaches a process, so it is no arrival at the node. With no other node to go to they back off and try it again.
   */
  private failOver(t: number, d: Pending): void {
    const owner = d.owner >= 0 ? d.owner : d.target;
    const to = this.standIns.spread(d.target, d.count);
    if (to.length === 0) {
      const level = Math.min(d.level + 1, this.levels - 1);
      this.schedule(t, d.target, level, d.count, this.p.rttMs, this.backoffMs(level), d.owner);
      return;
    }
    for (const [standIn, n] of to) this.schedule(t, standIn, d.level, n, this.p.rttMs, 0, owner);
  }

  /**
   * `n` users of restarted node `owner` accepted at `node` in tick `t`: back home (they moved twice), or taken by a
   * stand-in, which holds them while the node is away and sends them back at once (from the next tick) when it is not.
   */
  private restartedUserArrived(t: number, node: number, owner: number, n: number): void {
    if (node === owner) {
      this.movedTwice += n;
      return;
    }
    this.failedOver += n;
    if (this.away.has(owner)) this.standIns.hold(owner, node, n);
    else this.sendBackFrom(t + 1, node, owner, n);
  }

  /** The old process of node `i` is gone after a handoff: its successor starts with a pacer of its own. */
  retireSender(i: number): void {
    this.lanePacers.delete(i);
    this.pacerTokens.delete(i);
    this.queues.delete(i);
  }

  /** Whole connection attempts node `i` can accept in tick `t` (token bucket of acceptPerSec, acceptBurstMs deep). */
  private acceptBudget(i: number, t: number): number {
    const p = this.p;
    const rate = this.accept[i];
    const perTick = (rate * p.tickMs) / 1000;
    const cap = Math.max(1, perTick, (rate * p.acceptBurstMs) / 1000);
    // A node never asked before has a full bucket.
    const since = this.acceptAt[i] < 0 ? Infinity : t - this.acceptAt[i];
    this.acceptTokens[i] = Math.min(cap, this.acceptTokens[i] + since * perTick);
    this.acceptAt[i] = t;
    return Math.floor(this.acceptTokens[i]);
  }

  /** The balancer's choice for `count` users arriving together. */
  private balance(count: number): (readonly [number, number])[] {
    const live = this.ids.map((_, i) => i).filter((i) => this.up[i]);
    if (this.p.lb === 'least-connections') {
      const got = leastConnections(count, live.map((i) => this.connected[i]), live.map((i) => this.weight[i]));
      return live.map((i, k) => [i, got[k]] as const);
    }
    // Round robin in proportion to weights; the odd users go to the next nodes in turn.
    const weights = live.map((i) => this.weight[i]);
    const total = weights.reduce((a, b) => a + b, 0);
    const got = weights.map((w) => Math.floor((count * w) / total));
    let left = count - got.reduce((a, b) => a + b, 0);
    for (; left > 0; left--) got[this.rrCursor++ % live.length]++;
    return live.map((i, k) => [i, got[k]] as const);
  }
}

export interface StormHooks {
  /** Called after every tick (for tests and tools; it slows the run down). */
  onTick?: (s: TickState) => void;
  /** Called after each step, with the steps done so far. */
  onStep?: (done: number) => void;
}

export function simulateStorm(input: StormInput, params: StormParams, mode: StormMode, hooks: StormHooks = {}): StormModeResult {
  const observe = hooks.onTick;
  const p = params;
  const model = new Model(p, new Rng(p.seed ^ (mode === 'lb' ? 0x6c62 : 0)), mode === 'targeted' && p.admissionWaitMs > 0);
  const first = input.steps[0];
  for (const n of first?.before ?? []) {
    const i = model.node(n.id, n.weight);
    model.up[i] = true;
    model.connected[i] = input.initialLoads[n.id] ?? 0;
  }
  const users = model.connected.reduce((a, b) => a + b, 0);
  const ticksPerSec = 1000 / p.tickMs;
  const maxTicks = Math.ceil(p.maxStepMs / p.tickMs);
  const arrivalsPerSec: number[][] = [];
  const connections: number[][] = [];
  const reconnecting: number[] = [];
  const restarting: number[] = [];
  // Users on stand-ins, for targeted runs with a restart in place (where any can be).
  const standIns: number[] | undefined = mode === 'targeted' && input.steps.some((s) => s.deploy?.strategy === 'restart') ? [] : undefined;
  const stepStarts: number[] = [];
  const summaries: StormStepSummary[] = [];
  let second = 0;
  let t = 0;

  const over = new Map<number, Overload>();
  let stepOverSeconds = 0;
  const closeSecond = () => {
    model.ids.forEach((id, i) => {
      const a = model.arrivalsThisSecond[i];
      (arrivalsPerSec[i] ??= new Array<number>(second).fill(0)).push(a);
      (connections[i] ??= new Array<number>(second).fill(0)).push(model.up[i] || model.connected[i] > 0 ? model.connected[i] : 0);
      // A second in which a node saw more attempts than its accept rate: marked, counted and warned about.
      if (a > model.accept[i]) {
        let o = over.get(i);
        if (!o) over.set(i, (o = { node: id, acceptPerSec: model.accept[i], seconds: [], peakPerSec: 0, refused: 0 }));
        o.seconds.push(second);
        o.peakPerSec = Math.max(o.peakPerSec, a);
        stepOverSeconds++;
      }
      const o = over.get(i);
      if (o) o.refused += model.refusedThisSecond[i];
      else if (model.refusedThisSecond[i] > 0) over.set(i, { node: id, acceptPerSec: model.accept[i], seconds: [], peakPerSec: 0, refused: model.refusedThisSecond[i] });
      model.arrivalsThisSecond[i] = 0;
      model.refusedThisSecond[i] = 0;
    });
    reconnecting.push(model.reconnecting);
    restarting.push(model.restarting);
    standIns?.push(model.standIns.count);
    second++;
  };

  for (const step of input.steps) {
    // Steps start on a whole second so per-second figures belong to one step.
    stepStarts.push(second);
    const startTick = t;
    model.disconnects = 0;
    model.refused = 0;
    model.restarted = 0;
    model.ignoredRestart = 0;
    model.failedOver = 0;
    model.movedTwice = 0;
    model.firstFrame.clear();
    model.accepted.clear();
    for (const gate of model.gates) gate?.resetFigures();
    const stepPeak = new Map<number, number>();
    stepOverSeconds = 0;
    const ids = (nodes: SimNode[]) => new Set(nodes.map((n) => n.id));
    const after = ids(step.after);
    for (const n of step.after) {
      const i = model.node(n.id, n.weight);
      // A restarted node whose process has not served yet (its step did not settle) stays down.
      if (!model.awaitsProcess(i)) model.up[i] = true;
    }
    const leaving = step.before.filter((n) => !after.has(n.id)).map((n) => model.indexOf(n.id));
    const deployed = step.deploy ? model.indexOf(step.deploy.node) : -1;
    const split = step.split ?? flowSplit(step.flows, step.before.length);
    // New processes begin serving the agents' settle window before the fleet applies the change, and warm up.
    const before = ids(step.before);
    for (const n of step.after) if (!before.has(n.id)) model.beginsServing(model.indexOf(n.id), t * p.tickMs - SERVES_BEFORE_STEP_MS);
    if (step.deploy?.strategy === 'handoff') model.beginsServing(deployed, t * p.tickMs - SERVES_BEFORE_STEP_MS);
    if (mode === 'targeted' && p.policy === 'receiver-budget') model.beginStep(t, step.deploy?.strategy === 'handoff' ? handoffSplit(split, step.deploy.node) : split);
    if (step.deploy) {
      const users = model.connected[deployed];
      if (mode === 'lb') {
        // Through a balancer the node's users drop and come back wherever it sends them; a restarted node is down meanwhile.
        if (step.deploy.strategy === 'restart') model.downFor(t, deployed, restartTakesOf(p));
        model.drop(t, deployed, LB, users);
      } else if (step.deploy.strategy === 'handoff') {
        // The old process sends each of its users to the successor: the same node id, so one flow to itself.
        model.prepare(t, deployed, deployed, users);
      } else {
        model.restartInPlace(t, deployed, users, declaredRateOf(p, step.deploy.node), step.failover);
      }
    }
    if (mode === 'targeted') {
      for (const f of step.flows) {
        const from = model.indexOf(f.from);
        const to = model.indexOf(f.to);
        // A crashed node's users drop at once and fail over to their new owner; everyone else is told, at the agent's pace.
        if (step.departure === 'crash' && leaving.includes(from)) model.drop(t, from, to, f.users);
        else model.prepare(t, from, to, f.users);
      }
      if (step.departure === 'crash') for (const i of leaving) model.up[i] = false;
    } else {
      for (const i of leaving) model.up[i] = false;
      // Nodes that leave drop their users. When nodes only join or change weight, a balancer without affinity can
      // use the new capacity only by dropping everyone (lbDrop all); a node back from a deploy just starts empty.
      const dropAll = p.lbDrop === 'all' && leaving.length === 0 && step.kind !== 'rolling-deploy';
      const dropped = dropAll ? model.ids.map((_, i) => i) : leaving;
      for (const i of dropped) model.drop(t, i, LB, model.connected[i]);
    }
    let peakReconnecting = model.reconnecting;
    let peakRestarting = model.restarting;
    let peakOnStandIns = model.standIns.count;
    let userTicks = 0;
    let restartTicks = 0;
    // Once nothing is pending nothing more can happen in this step: that tick is the settle time.
    let settledAt: number | null = model.busy ? null : t;
    // Nodes draining at the agents' pace: when they hold nobody any more.
    const draining = mode === 'targeted' && step.departure === 'paced' ? leaving : [];
    let drainedAt: number | null = null;
    let peakNode = 0;
    let peakNodeId = step.after[0]?.id ?? '';
    let peakFleet = 0;
    for (let k = 0; ; k++) {
      // Steps end on a whole second of their own, so every second of the series belongs to one step.
      if (k % ticksPerSec === 0 && (!model.busy || k >= maxTicks)) break;
      model.tick(t);
      t++;
      if (settledAt === null && !model.busy) settledAt = t;
      if (drainedAt === null && draining.length > 0 && draining.every((i) => model.connected[i] === 0)) drainedAt = t;
      peakReconnecting = Math.max(peakReconnecting, model.reconnecting);
      peakRestarting = Math.max(peakRestarting, model.restarting);
      peakOnStandIns = Math.max(peakOnStandIns, model.standIns.count);
      // Waiting at a gate is no service either: the socket is open, the user not admitted.
      userTicks += model.reconnecting + model.restarting + model.admitting;
      restartTicks += model.restarting;
      if (observe) observe({ tick: t, connected: model.connected.reduce((a, b) => a + b, 0), reconnecting: model.reconnecting, restarting: model.restarting, queued: model.waiting + model.queued, standIns: model.standIns.count, admitting: model.admitting });
      if ((k + 1) % ticksPerSec === 0) {
        let fleet = 0;
        model.ids.forEach((id, i) => {
          const a = model.arrivalsThisSecond[i];
          fleet += a;
          if (a > 0) stepPeak.set(i, Math.max(stepPeak.get(i) ?? 0, a));
          if (a > peakNode) {
            peakNode = a;
            peakNodeId = id;
          }
        });
        peakFleet = Math.max(peakFleet, fleet);
        closeSecond();
      }
    }
    for (const i of leaving) if (model.connected[i] === 0) model.up[i] = false;
    if (step.deploy?.strategy === 'handoff' && settledAt !== null) model.retireSender(deployed);
    const tk = p.tickMs;
    const stepMs = (absMs: number) => absMs - startTick * tk;
    const frames = [...model.firstFrame.values()];
    const firstFrameMs = frames.length ? stepMs(Math.min(...frames)) : null;
    const receivers: ReceiverSummary[] = [...model.accepted]
      .sort((a, b) => a[0] - b[0])
      .map(([i, a]) => {
        const first = model.firstFrame.get(i);
        const lastArrivalMs = (a.lastTick + 1 - startTick) * tk;
        const firstMs = first === undefined ? null : stepMs(first);
        return {
          node: model.ids[i],
          arrivals: a.count,
          peakArrivalsPerSec: stepPeak.get(i) ?? 0,
          acceptPerSec: model.accept[i],
          acceptRate: declaredRateOf(p, model.ids[i]),
          firstFrameMs: firstMs,
          lastArrivalMs,
          settleMs: firstMs === null ? null : lastArrivalMs - firstMs,
          ...(model.gates[i] ? { gate: { ...model.gates[i]!.figures } } : {}),
        };
      });
    const afterLoads = step.after.map((n) => model.connected[model.indexOf(n.id)]);
    const onFleet = afterLoads.reduce((a, b) => a + b, 0);
    summaries.push({
      label: step.label,
      ...(step.deploy ? { deploy: step.deploy } : {}),
      disconnected: model.disconnects,
      restarted: model.restarted,
      peakRestarting,
      userSecondsRestarting: (restartTicks * p.tickMs) / 1000,
      ...(mode === 'targeted' && step.deploy?.strategy === 'restart' ? { failover: failoverOf(model, deployed, startTick, peakOnStandIns, p.tickMs) } : {}),
      receivers,
      firstFrameMs,
      lastArrivalMs: receivers.length ? Math.max(...receivers.map((r) => r.lastArrivalMs)) : null,
      peakNodeArrivalsPerSec: peakNode,
      peakNode: peakNodeId,
      peakFleetArrivalsPerSec: peakFleet,
      refused: model.refused,
      overloadSeconds: stepOverSeconds,
      peakReconnecting,
      userSecondsDisconnected: (userTicks * p.tickMs) / 1000,
      settleMs: settledAt === null ? null : (settledAt - startTick) * p.tickMs,
      // A handoff's old process holds nobody once its last user has reached the successor.
      drainMs: step.deploy?.strategy === 'handoff' && mode === 'targeted' ? (receivers.find((r) => r.node === step.deploy!.node)?.lastArrivalMs ?? null) : drainedAt === null ? null : (drainedAt - startTick) * p.tickMs,
      // Against every user: those still reconnecting or left on a node outside the fleet are missing from it.
      balanceAfter: balanceOf(step.after, afterLoads, users),
      notOnFleet: users - onFleet,
    });
    hooks.onStep?.(summaries.length);
  }
  const series = {
    arrivalsPerSec: Object.fromEntries(model.ids.map((id, i) => [id, pad(arrivalsPerSec[i], second)])),
    connections: Object.fromEntries(model.ids.map((id, i) => [id, pad(connections[i], second)])),
    reconnecting,
    restarting,
    ...(standIns ? { standIns } : {}),
    stepStarts,
  };
  const settled = summaries.every((s) => s.settleMs !== null);
  const finalFleet = new Set((input.steps.at(-1)?.after ?? []).map((n) => n.id));
  return {
    mode,
    steps: summaries,
    series,
    // The final fleet, and any node outside it that still holds users (a run that did not settle).
    finalConnections: Object.fromEntries(
      model.ids.flatMap((id, i) => (finalFleet.has(id) || model.connected[i] > 0 ? [[id, model.connected[i]] as const] : [])),
    ),
    finalReconnecting: model.reconnecting,
    finalRestarting: model.restarting,
    ...(mode === 'targeted' && p.admissionWaitMs > 0 ? { finalAdmitting: model.admitting } : {}),
    totals: {
      disconnected: summaries.reduce((a, s) => a + s.disconnected, 0),
      restarted: summaries.reduce((a, s) => a + s.restarted, 0),
      peakNodeArrivalsPerSec: Math.max(0, ...summaries.map((s) => s.peakNodeArrivalsPerSec)),
      peakFleetArrivalsPerSec: Math.max(0, ...summaries.map((s) => s.peakFleetArrivalsPerSec)),
      settleMs: settled ? summaries.reduce((a, s) => a + (s.settleMs ?? 0), 0) : null,
      refused: summaries.reduce((a, s) => a + s.refused, 0),
      runSeconds: second,
      overloadSeconds: summaries.reduce((a, s) => a + s.overloadSeconds, 0),
    },
    overloads: [...over.values()].sort((a, b) => b.seconds.length - a.seconds.length || b.refused - a.refused || (a.node < b.node ? -1 : 1)),
  };
}

/** A restart step's failover figures (RestartFailover) for its node `i`, from the model's counters of the step. */
function failoverOf(model: Model, i: number, startTick: number, peakOnStandIns: number, tickMs: number): RestartFailover {
  const start = startTick * tickMs;
  const since = (ms: number | undefined) => (ms === undefined || ms < start ? null : ms - start);
  return {
    servedMs: since(model.servedAtMs.get(i)),
    droppedMs: since(model.droppedAtMs.get(i)),
    ignored: model.ignoredRestart,
    failedOver: model.failedOver,
    movedTwice: model.movedTwice,
    peakOnStandIns,
  };
}

/**
 * A handoff step: the old process of `node` is the only sender to its successor and takes the successor's whole
 * declared acceptRate (Rebalancer.handoff); every other lane keeps the step's split.
 */
export function handoffSplit(base: BudgetSplit, node: string): BudgetSplit {
  return {
    shares: (sender, acceptRate) => {
      const out = new Map(base.shares(sender, acceptRate));
      if (sender === node) out.set(node, acceptRate(node));
      return out;
    },
    fallback: base.fallback,
  };
}

function pad(xs: number[] | undefined, len: number): number[] {
  const out = xs ? [...xs] : [];
  while (out.length < len) out.push(0);
  return out;
}
