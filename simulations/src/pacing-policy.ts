// How the agents pace targeted moves, as far as a receiver's accept rate is concerned. `advise` asks a policy for
// the settings that keep every receiver of a step within its budget, and for the time the step then takes.
// Two policies: receiver budgets (today's agents: the senders of a change share each receiver's declared acceptRate)
// and per-sender pacing (the agents before that: one rate per sender, whatever the receivers).
import { flowSplit, type BudgetSplit } from './budget-split.js';
import { LANE_BURST_MS, laneBurst, warmingFraction } from '@wsring/node-agent/internal';
import { SERVES_BEFORE_STEP_MS, declaredRateOf } from './storm.js';
import type { PacingPolicyName, StormParams } from './types.js';

/** What a receiver can take, less the headroom: connection attempts per second, and what it can bank at once (its listen backlog). */
export interface ReceiverBudget {
  perSec: number;
  bank: number;
}

/** The paced moves of one step: flows from sender to receiver, and how the senders split each receiver's budget. */
export interface PacedFlows {
  flows: readonly { from: string; to: string; users: number }[];
  /** The agents' split (receiver-budget); absent: in proportion to the users each sender carries. */
  split?: BudgetSplit;
  /** Receivers whose process begins serving with the step (joiners, handoff successors): they warm up (`warmupMs`). */
  warming?: ReadonlySet<string>;
}

export interface Pacing {
  /** per-sender: the rate every agent may send at; receiver-budget: the sender ceiling that does not slow the step. */
  ratePerSec: number;
  burst: number;
  /**
   * Set when some receiver cannot bank one frame from each of its senders at once (each sender's first frame to it
   * may go at once under either policy): the accept bank, in ms of its accept rate, every receiver needs.
   */
  needsAcceptBurstMs: number | null;
  /** per-sender: the receiver with the fewest accepts per sender; receiver-budget: the slowest (most users per declared rate). */
  limitingReceiver: string;
  senders: number;
  maxSenders: number;
  /** Users the limiting receiver takes in the step. */
  receiverUsers: number;
  /** receiver-budget: the acceptRate each receiver of the step should declare; null under per-sender. */
  acceptRates: Record<string, number> | null;
}

export interface PacingPolicy {
  readonly name: PacingPolicyName;
  /** One paragraph for the report: how senders and receivers share the pace. */
  readonly description: string;
  /** Settings that keep every receiver within its budget, or null when nothing moves. `p`: the current settings. */
  pace(step: PacedFlows, budget: (node: string) => ReceiverBudget, p: StormParams): Pacing | null;
  /** Time the step's paced moves take at the settings `p` (pacing, declared accept rates), by the model's arithmetic. */
  estimateMs(step: PacedFlows, p: StormParams): number;
}

/** A rate as it would be configured: whole numbers from 1 up, two decimals below. */
export function roundRateDown(r: number): number {
  return r >= 1 ? Math.floor(r) : Math.floor(r * 100) / 100;
}

/** The same, rounded up (float noise below a millionth is not worth a whole unit). */
export function roundRateUp(r: number): number {
  return r >= 1 ? Math.ceil(r - 1e-6) : Math.ceil(r * 100 - 1e-6) / 100;
}

/** Senders and users per receiver. */
function receivers(step: PacedFlows): Map<string, { senders: Set<string>; users: number }> {
  const out = new Map<string, { senders: Set<string>; users: number }>();
  for (const f of step.flows) {
    if (f.users <= 0) continue;
    let r = out.get(f.to);
    if (!r) out.set(f.to, (r = { senders: new Set(), users: 0 }));
    r.senders.add(f.from);
    r.users += f.users;
  }
  return out;
}

/** The model's last-user arithmetic: the last user is ready after at most jitterMs, its frame takes rtt/2 and its reconnect one rtt more. */
function finish(sendingMs: number, p: StormParams): number {
  return Math.ceil((Math.max(sendingMs, p.jitterMs) + 1.5 * p.rttMs + p.tickMs) / p.tickMs) * p.tickMs;
}

/**
 * The accept bank every receiver needs so that one frame from each of its senders fits at once, on top of `alsoMs`
 * of its rate, or null if all have it.
 */
function bankNeeded(recv: Map<string, { senders: Set<string> }>, budget: (node: string) => ReceiverBudget, alsoMs = 0): number | null {
  let need: number | null = null;
  for (const [to, r] of recv) {
    const b = budget(to);
    const frames = r.senders.size + (b.perSec * alsoMs) / 1000;
    if (b.bank < frames) need = Math.max(need ?? 0, Math.ceil((1000 * frames) / b.perSec));
  }
  return need;
}

/**
 * The agents before receiver budgets: every agent sends its frames through its own token bucket (ratePerSec, burst),
 * whatever the receivers. A receiver with k senders can get k × ratePerSec attempts a second (and k × burst at
 * once), so the safe rate is the smallest budget / k over the receivers, and the step lasts as long as the sender
 * with the most users to move takes at that rate.
 */
export const perSenderPolicy: PacingPolicy = {
  name: 'per-sender',
  description:
    'per-sender pacing (the agents before receiver budgets): every agent paces its own frames at ratePerSec, whatever the receivers, so a receiver with k senders gets up to k × ratePerSec attempts a second and k × burst at once. The advice keeps k × ratePerSec within each receiver\'s accept rate (less the headroom) and k × burst within its bank.',
  pace(step, budget) {
    const recv = receivers(step);
    if (recv.size === 0) return null;
    let best: { ratePerSec: number; to: string; k: number } | null = null;
    let burst = Infinity;
    let maxSenders = 0;
    for (const [to, r] of recv) {
      const b = budget(to);
      const k = r.senders.size;
      maxSenders = Math.max(maxSenders, k);
      burst = Math.min(burst, Math.floor(b.bank / k));
      const rate = b.perSec / k;
      if (!best || rate < best.ratePerSec || (rate === best.ratePerSec && to < best.to)) best = { ratePerSec: rate, to, k };
    }
    return {
      ratePerSec: roundRateDown(best!.ratePerSec),
      burst: Math.max(1, burst),
      needsAcceptBurstMs: bankNeeded(recv, budget),
      limitingReceiver: best!.to,
      senders: best!.k,
      maxSenders,
      receiverUsers: recv.get(best!.to)!.users,
      acceptRates: null,
    };
  },
  estimateMs(step, p) {
    const bySender = new Map<string, number>();
    for (const f of step.flows) bySender.set(f.from, (bySender.get(f.from) ?? 0) + f.users);
    const most = Math.max(0, ...bySender.values());
    if (most === 0) return 0;
    return finish((Math.max(0, most - p.burst) / p.ratePerSec) * 1000, p);
  },
};

/**
 * Milliseconds between two frames of a backlogged lane at `share`/s: the agent's lane saves up what it earns while
 * its pump sleeps (`laneBurst`), so on average one frame every 1000 / share ms.
 */
export function laneIntervalMs(share: number): number {
  return 1000 / share;
}

/** Each flow's lane rate under the receiver-budget policy at the declared rates of `p`: the agents' shares. */
function lanes(step: PacedFlows, p: StormParams): { from: string; to: string; users: number; share: number }[] {
  // The flow split covers every flow: its fallback (the node count) does not matter here.
  const split = step.split ?? flowSplit(step.flows, 0);
  const declared = (id: string) => declaredRateOf(p, id);
  const shares = new Map<string, Map<string, number>>();
  return step.flows
    .filter((f) => f.users > 0)
    .map((f) => {
      let mine = shares.get(f.from);
      if (!mine) shares.set(f.from, (mine = split.shares(f.from, declared)));
      const share = mine.get(f.to);
      return { ...f, share: share !== undefined && share > 0 ? share : split.fallback(f.to, declared(f.to)) };
    });
}

/**
 * Today's agents: each receiver R declares acceptRate(R); the senders of a change split it by the hash space each
 * hands to R, one lane per receiver, `laneBurst(share)` tokens deep (1 + share × LANE_BURST_MS), under their own
 * ceiling (ratePerSec). Over any interval T a receiver gets at most acceptRate(R) × (T + LANE_BURST_MS) + (its
 * senders) from one change, so declaring (budget - senders) / (1 + LANE_BURST_MS / 1 s) keeps every second within
 * it by construction; the step lasts as long as the slowest receiver's lanes take.
 */
export const receiverBudgetPolicy: PacingPolicy = {
  name: 'receiver-budget',
  description:
    "receiver budgets (today's agents): each node declares acceptRate, and the senders of a change split it by the hash space each hands to the receiver, one lane per receiver (1 + 50 ms of its share deep) under the sender's ceiling ratePerSec. A receiver then gets at most acceptRate × (T + 50 ms) + (its senders) over any T, whatever the number of senders. The advice: declare the accept rate less the headroom, less one per sender, less 5%; a ceiling that never holds a lane back; the time is the slowest receiver's, about its users / its acceptRate.",
  pace(step, budget, p) {
    const recv = receivers(step);
    if (recv.size === 0) return null;
    const acceptRates: Record<string, number> = {};
    let maxSenders = 0;
    for (const [to, r] of recv) {
      const b = budget(to);
      const k = r.senders.size;
      maxSenders = Math.max(maxSenders, k);
      acceptRates[to] = declaredRate(b.perSec, k);
    }
    const declared = { ...p, nodeAcceptRate: { ...p.nodeAcceptRate, ...acceptRates } };
    const all = lanes(step, declared);
    // The ceiling that never holds a lane back: every lane of the busiest sender at its share at once.
    const perSender = new Map<string, number>();
    for (const l of all) perSender.set(l.from, (perSender.get(l.from) ?? 0) + l.share);
    // The slowest receiver: its slowest lane.
    const slowest = new Map<string, number>();
    for (const l of all) slowest.set(l.to, Math.max(slowest.get(l.to) ?? 0, laneMs(l.users, l.share)));
    let limiting = '';
    for (const [to, t] of slowest) if (!limiting || t > slowest.get(limiting)! || (t === slowest.get(limiting) && to < limiting)) limiting = to;
    return {
      ratePerSec: roundRateUp(Math.max(...perSender.values())),
      burst: p.burst,
      // The model takes a tick's arrivals at once: each lane's burst (one frame per sender and LANE_BURST_MS of the
      // lanes' rate), and a tick of the lanes' rate with them.
      needsAcceptBurstMs: bankNeeded(recv, budget, p.tickMs + LANE_BURST_MS),
      limitingReceiver: limiting,
      senders: recv.get(limiting)!.senders.size,
      maxSenders,
      receiverUsers: recv.get(limiting)!.users,
      acceptRates,
    };
  },
  estimateMs(step, p) {
    const all = lanes(step, p);
    if (all.length === 0) return 0;
    let sending = 0;
    const bySender = new Map<string, number>();
    for (const l of all) {
      bySender.set(l.from, (bySender.get(l.from) ?? 0) + l.users);
      sending = Math.max(sending, step.warming?.has(l.to) ? warmLaneMs(l.users, l.share, p) : laneMs(l.users, l.share));
    }
    for (const users of bySender.values()) sending = Math.max(sending, (Math.max(0, users - p.burst) / p.ratePerSec) * 1000);
    return finish(sending, p);
  },
};

/** How long a backlogged lane of `users` takes at `share`/s: its burst goes at once, the rest one frame every interval. */
function laneMs(users: number, share: number): number {
  // users x 1000 / share, in that order: 95 x 1000 / 95 is exactly 1000 (95 x (1000 / 95) is not).
  return (Math.max(0, users - Math.floor(laneBurst(share))) * 1000) / share;
}

/**
 * `laneMs` to a receiver that warms up: it began serving SERVES_BEFORE_STEP_MS before the step and declares
 * warmingFraction of its rate as of its last heartbeat, so the lane runs at that fraction of its share, a heartbeat at a time.
 */
function warmLaneMs(users: number, share: number, p: StormParams): number {
  if (p.warmupMs <= 0) return laneMs(users, share);
  let left = Math.max(0, users - Math.floor(laneBurst(share)));
  let ms = 0;
  // Heartbeat intervals of the warm-up from the step's start: age = SERVES_BEFORE_STEP_MS + ms.
  for (let age: number = SERVES_BEFORE_STEP_MS; age < p.warmupMs && left > 0; ) {
    const next = (Math.floor(age / p.heartbeatMs) + 1) * p.heartbeatMs;
    const rate = share * warmingFraction(Math.floor(age / p.heartbeatMs) * p.heartbeatMs, p.warmupMs);
    const span = next - age;
    if (rate * span >= left * 1000) return ms + (left * 1000) / rate;
    left -= (rate * span) / 1000;
    ms += span;
    age = next;
  }
  return ms + (left * 1000) / share;
}

/**
 * The acceptRate a receiver with `senders` senders should declare for a budget of `perSec`: the budget less one per
 * sender, less the lanes' LANE_BURST_MS of saved-up rate (each lane may send that much at once), so that a second
 * never holds more than the budget. With more senders than half the budget that would leave too little: it takes
 * half the budget, and the first second can pass it.
 */
export function declaredRate(perSec: number, senders: number): number {
  return roundRateDown(Math.max((perSec - senders) / (1 + LANE_BURST_MS / 1000), perSec / 2));
}

export const POLICIES: Record<PacingPolicyName, PacingPolicy> = { 'receiver-budget': receiverBudgetPolicy, 'per-sender': perSenderPolicy };
