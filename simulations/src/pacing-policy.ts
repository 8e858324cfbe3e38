// How the agents pace targeted moves, as far as a receiver's accept rate is concerned. `advise` asks a policy for
// the settings that keep every receiver of a step within its budget, and for the time the step then takes.
// Today's agents pace per sender; a receiver-budget policy (senders share each receiver's accept rate) will be a
// second implementation of the same interface.
import type { PacingPolicyName, StormParams } from './types.js';

/** What a receiver can take: connection attempts per second, and what it can bank at once (its listen backlog). */
export interface ReceiverBudget {
  perSec: number;
  bank: number;
}

/** The paced moves of one step: flows from sender to receiver. */
export interface PacedFlows {
  flows: readonly { from: string; to: string; users: number }[];
}

export interface Pacing {
  ratePerSec: number;
  burst: number;
  /**
   * Set when some receiver cannot bank even one frame from each of its senders at once (burst is at least 1): the
   * accept bank, in ms of its accept rate, every receiver needs for the advice to hold.
   */
  needsAcceptBurstMs: number | null;
  limitingReceiver: string;
  senders: number;
  maxSenders: number;
}

export interface PacingPolicy {
  readonly name: PacingPolicyName;
  /** One paragraph for the report: how senders and receivers share the pace. */
  readonly description: string;
  /** Settings that keep every receiver within its budget, or null when nothing moves. */
  pace(step: PacedFlows, budget: (node: string) => ReceiverBudget): Pacing | null;
  /** Time the step's paced moves take at `pacing`, by the model's arithmetic (queues drain at ratePerSec). */
  estimateMs(step: PacedFlows, pacing: { ratePerSec: number; burst: number }, params: StormParams): number;
}

/** A rate as it would be configured: whole numbers from 1 up, two decimals below. */
export function roundRateDown(r: number): number {
  return r >= 1 ? Math.floor(r) : Math.floor(r * 100) / 100;
}

/**
 * Today's agents: every agent sends its frames through its own token bucket (ratePerSec, burst), whatever the
 * receivers. A receiver with k senders can get k × ratePerSec attempts a second (and k × burst at once), so the
 * safe rate is the smallest budget / k over the receivers, and the step lasts as long as the sender with the most
 * users to move takes at that rate.
 */
export const perSenderPolicy: PacingPolicy = {
  name: 'per-sender',
  description:
    "per-sender pacing (today's agents): every agent paces its own frames at ratePerSec, whatever the receivers, so a receiver with k senders gets up to k × ratePerSec attempts a second and k × burst at once. The advice keeps k × ratePerSec within each receiver's accept rate (less the headroom) and k × burst within its bank. A receiver-budget policy (senders share each receiver's accept rate) is not in the agents yet and not modelled.",
  pace(step, budget) {
    const senders = new Map<string, Set<string>>();
    for (const f of step.flows) {
      if (f.users <= 0) continue;
      let s = senders.get(f.to);
      if (!s) senders.set(f.to, (s = new Set()));
      s.add(f.from);
    }
    if (senders.size === 0) return null;
    let best: Pacing | null = null;
    let burst = Infinity;
    let maxSenders = 0;
    let needsAcceptBurstMs: number | null = null;
    for (const [to, from] of senders) {
      const b = budget(to);
      const k = from.size;
      maxSenders = Math.max(maxSenders, k);
      if (b.bank < k) needsAcceptBurstMs = Math.max(needsAcceptBurstMs ?? 0, Math.ceil((1000 * k) / b.perSec));
      burst = Math.min(burst, Math.floor(b.bank / k));
      const rate = b.perSec / k;
      if (!best || rate < best.ratePerSec || (rate === best.ratePerSec && to < best.limitingReceiver)) best = { ratePerSec: rate, burst: 0, needsAcceptBurstMs: null, limitingReceiver: to, senders: k, maxSenders: 0 };
    }
    return { ...best!, ratePerSec: roundRateDown(best!.ratePerSec), burst: Math.max(1, burst), needsAcceptBurstMs, maxSenders };
  },
  estimateMs(step, pacing, p) {
    const bySender = new Map<string, number>();
    for (const f of step.flows) bySender.set(f.from, (bySender.get(f.from) ?? 0) + f.users);
    const most = Math.max(0, ...bySender.values());
    if (most === 0) return 0;
    const sending = (Math.max(0, most - pacing.burst) / pacing.ratePerSec) * 1000;
    // The last user becomes ready after at most jitterMs, its frame takes rtt/2 and its reconnect one rtt more.
    return Math.ceil((Math.max(sending, p.jitterMs) + 1.5 * p.rttMs + p.tickMs) / p.tickMs) * p.tickMs;
  },
};

export const POLICIES: Record<PacingPolicyName, PacingPolicy> = { 'per-sender': perSenderPolicy };
