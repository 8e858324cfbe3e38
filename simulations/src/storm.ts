// The reconnect wave over time, in ticks of `tickMs`, for two ways of changing the fleet:
//  - targeted: each node's agent queues exactly the users that move (the plan's flows); each waits U(0, jitterMs),
//    then its agent's pacer lets its reconnect frame go. Under the `receiver-budget` policy (today's agents) that is
//    the agent's Pacer: a lane per receiver at this sender's share of the receiver's declared acceptRate (one token
//    deep), the sender's own bucket (ratePerSec, burst) on top (see LanePacer). Under `per-sender` (the agents
//    before receiver budgets) one token bucket of `ratePerSec` per agent (depth `burst`), split over destinations in
//    proportion to what is queued. The client closes and connects straight to its new node. A crashed node's users
//    drop at once and fail over to their new owner with the client's backoff.
//  - lb: a load balancer without affinity; the change drops users (everyone, or those of leaving nodes) and they
//    come back through the balancer with exponential backoff and full jitter.
// Both share one model of a node: it accepts `acceptPerSec` connection attempts a second; attempts beyond that
// are refused and the client retries with its next backoff. Counts are integers and every user is always either
// connected to one node or reconnecting (scheduled to arrive somewhere), so connected + reconnecting == total.
import { apportion, leastConnections } from './baselines.js';
import { balanceOf } from './balance.js';
import { flowSplit, type BudgetSplit } from './budget-split.js';
import { LanePacer } from './lane-pacer.js';
import { Rng } from './rng.js';
import type { Departure, Overload, SimNode, StepSpec, StormMode, StormModeResult, StormParams, StormStepSummary } from './types.js';

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
  /** Users between two connections. */
  reconnecting: number;
  /** Connected users still waiting for their reconnect frame (jitter or token; counted in `connected`). */
  queued: number;
}

/** Target of scheduled arrivals: a node index, or the load balancer. */
const LB = -1;
/** Packs (from, to) node indices into one map key. */
const FLOW_KEY = 2 ** 20;

interface Pending {
  target: number;
  level: number;
  count: number;
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
  private readonly sentSoFar = new Map<number, number>();
  queued = 0;
  /** Users who ignored their frame: closed at `tick`. FIFO because graceMs is constant. */
  private readonly closes: { tick: number; from: number; to: number; count: number }[] = [];
  private rrCursor = 0;
  /** Counters for the current step and the current second. */
  disconnects = 0;
  refused = 0;
  arrivalsThisSecond: number[] = [];
  refusedThisSecond: number[] = [];
  /** Each node's accept rate: its own (nodeAcceptPerSec) or the fleet's acceptPerSec. */
  accept: number[] = [];

  constructor(private readonly p: StormParams, private readonly rng: Rng) {
    const longest = Math.max(p.jitterMs, p.backoffCapMs) + 2 * p.rttMs + 2 * p.tickMs;
    this.slots = Array.from({ length: Math.ceil(longest / p.tickMs) + 2 }, () => new Map());
    this.waitSlots = Array.from({ length: Math.ceil(p.jitterMs / p.tickMs) + 2 }, () => new Map());
    this.levels = Math.ceil(Math.log2(p.backoffCapMs / p.backoffBaseMs)) + 2;
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
    }
    this.weight[i] = weight;
    return i;
  }

  indexOf(id: string): number {
    return this.index.get(id)!;
  }

  get busy(): boolean {
    return this.reconnecting > 0 || this.waiting > 0 || this.queued > 0 || this.closes.length > 0;
  }

  /** `count` users start reconnecting now towards `target`, arriving over [now + lo, now + lo + span] ms. */
  schedule(tick: number, target: number, level: number, count: number, loMs: number, spanMs: number): void {
    if (count <= 0) return;
    this.reconnecting += count;
    this.spread(this.slots, tick, target * this.levels + level, count, loMs, spanMs, 1);
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

  /** Users of `from` drop now and come back through `target` after the first backoff. */
  drop(tick: number, from: number, target: number, count: number): void {
    if (count <= 0) return;
    this.connected[from] -= count;
    this.disconnects += count;
    this.schedule(tick, target, 0, count, this.p.rttMs, this.backoffMs(0));
  }

  /**
   * A new step under receiver budgets, starting at tick `t`: every agent takes its shares of this change (the agents'
   * receiverShares at the rates the nodes declare; a lane the change does not cover takes the fallback share), and
   * re-rates the lanes it has (Pacer.rerate).
   */
  beginStep(t: number, split: BudgetSplit): void {
    const declared = (id: string) => declaredRateOf(this.p, id);
    const shares = new Map<number, Map<string, number>>();
    this.shareOf = (from, to) => {
      let mine = shares.get(from);
      if (!mine) shares.set(from, (mine = split.shares(this.ids[from], declared)));
      const id = this.ids[to];
      const share = mine.get(id);
      return share !== undefined && share > 0 ? share : split.fallback(id, declared(id));
    };
    const now = t * this.p.tickMs;
    for (const [from, pacer] of this.lanePacers) pacer.rerate(now, (to) => this.shareOf(from, to));
  }

  private enqueue(from: number, to: number, count: number, t: number): void {
    if (count <= 0) return;
    this.queued += count;
    if (this.p.policy === 'receiver-budget') {
      const now = t * this.p.tickMs;
      let pacer = this.lanePacers.get(from);
      if (!pacer) this.lanePacers.set(from, (pacer = new LanePacer(this.p.ratePerSec, this.p.burst, now)));
      pacer.enqueue(to, count, now, this.shareOf(from, to), this.sender(from, t));
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
    if (obeying > 0) {
      // The frame reaches the client after rtt/2; it closes and connects at once, arriving one rtt later.
      this.connected[from] -= obeying;
      this.disconnects += obeying;
      this.schedule(t, to, 0, obeying, delayMs + 1.5 * p.rttMs, 0);
    }
    if (ignoring > 0) this.closes.push({ tick: t + Math.max(1, Math.ceil(p.graceMs / p.tickMs)), from, to, count: ignoring });
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
    // Clients that ignored their frame are closed at the end of the grace period.
    while (this.closes.length > 0 && this.closes[0].tick <= t) {
      const c = this.closes.shift()!;
      this.drop(t, c.from, c.to, c.count);
    }
    // Users whose jitter wait ends now join their agent's queue.
    const ready = this.waitSlots[t % this.waitSlots.length];
    for (const [key, count] of ready) {
      this.waiting -= count;
      this.enqueue(Math.floor(key / FLOW_KEY), key % FLOW_KEY, count, t);
    }
    ready.clear();
    if (p.policy === 'receiver-budget') this.paceLanes(t);
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
    // Arrivals due now: the balancer picks nodes first; then each node accepts what its rate allows.
    const slot = this.slots[t % this.slots.length];
    if (slot.size === 0) return;
    const due: Pending[] = [];
    for (const [key, count] of slot) {
      const target = Math.floor(key / this.levels);
      const level = key - target * this.levels;
      due.push({ target, level, count });
    }
    slot.clear();
    const atNode = new Map<number, Pending[]>();
    for (const d of due) {
      this.reconnecting -= d.count;
      const spread = d.target === LB ? this.balance(d.count) : [[d.target, d.count] as const];
      for (const [node, count] of spread) {
        if (count === 0) continue;
        let list = atNode.get(node);
        if (!list) atNode.set(node, (list = []));
        list.push({ target: d.target, level: d.level, count });
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
        this.connected[node] += ok;
        const refused = d.count - ok;
        if (refused > 0) {
          this.refused += refused;
          this.refusedThisSecond[node] += refused;
          const level = Math.min(d.level + 1, this.levels - 1);
          this.schedule(t, d.target, level, refused, p.rttMs, this.backoffMs(level));
        }
      }
      this.acceptTokens[node] -= accepted;
    }
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
  const model = new Model(p, new Rng(p.seed ^ (mode === 'lb' ? 0x6c62 : 0)));
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
    second++;
  };

  for (const step of input.steps) {
    // Steps start on a whole second so per-second figures belong to one step.
    stepStarts.push(second);
    const startTick = t;
    model.disconnects = 0;
    model.refused = 0;
    stepOverSeconds = 0;
    const ids = (nodes: SimNode[]) => new Set(nodes.map((n) => n.id));
    const after = ids(step.after);
    for (const n of step.after) {
      const i = model.node(n.id, n.weight);
      model.up[i] = true;
    }
    const leaving = step.before.filter((n) => !after.has(n.id)).map((n) => model.indexOf(n.id));
    if (mode === 'targeted' && p.policy === 'receiver-budget') model.beginStep(t, step.split ?? flowSplit(step.flows, step.before.length));
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
    let userTicks = 0;
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
      userTicks += model.reconnecting;
      if (observe) observe({ tick: t, connected: model.connected.reduce((a, b) => a + b, 0), reconnecting: model.reconnecting, queued: model.waiting + model.queued });
      if ((k + 1) % ticksPerSec === 0) {
        let fleet = 0;
        model.ids.forEach((id, i) => {
          const a = model.arrivalsThisSecond[i];
          fleet += a;
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
    const afterLoads = step.after.map((n) => model.connected[model.indexOf(n.id)]);
    const onFleet = afterLoads.reduce((a, b) => a + b, 0);
    summaries.push({
      label: step.label,
      disconnected: model.disconnects,
      peakNodeArrivalsPerSec: peakNode,
      peakNode: peakNodeId,
      peakFleetArrivalsPerSec: peakFleet,
      refused: model.refused,
      overloadSeconds: stepOverSeconds,
      peakReconnecting,
      userSecondsDisconnected: (userTicks * p.tickMs) / 1000,
      settleMs: settledAt === null ? null : (settledAt - startTick) * p.tickMs,
      drainMs: drainedAt === null ? null : (drainedAt - startTick) * p.tickMs,
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
    totals: {
      disconnected: summaries.reduce((a, s) => a + s.disconnected, 0),
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

function pad(xs: number[] | undefined, len: number): number[] {
  const out = xs ? [...xs] : [];
  while (out.length < len) out.push(0);
  return out;
}
