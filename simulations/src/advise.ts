// `advise`: how fast can this change go without pushing any receiver past its accept rate? For every step, the
// settings a policy says keep each receiver within its accept rate (less a headroom), the time the step then takes,
// and a check: the step run through the storm model at those settings. Then one setting for the whole change (the
// agents' configuration is fleet-wide), the drains against the agents' drain deadline, and the change at today's
// settings, all simulated. Under receiver budgets (today's agents) the settings are the acceptRate each node declares
// and the sender ceiling; under per-sender pacing, the one rate and burst every agent sends at.
import type { PlanInput, RunOptions } from './plan.js';
import { POLICIES, declaredRate, roundRateDown, type PacingPolicy, type ReceiverBudget } from './pacing-policy.js';
import { silentProgress } from './progress.js';
import { flowSplit } from './budget-split.js';
import { acceptRateOf, declaredRateOf, handoffSplit, simulateStorm, type StormInput, type StormStep } from './storm.js';
import { resolveStormParams } from './storm-params.js';
import { planStorm } from './storm-run.js';
import type { AdviseReport, DrainAdvice, PacingCheck, PacingPolicyName, StepAdvice, StepResult, StormModeResult, StormParams } from './types.js';

export interface AdviseOptions {
  /** The agents' pacing policy, instead of the parameters' `policy`. */
  policy?: PacingPolicyName;
  /** Percent of every accept rate to keep free (default 10). */
  headroomPct?: number;
}

export const DEFAULT_HEADROOM_PCT = 10;

export async function runAdvise(input: PlanInput, current: StormParams, opts: RunOptions & AdviseOptions = {}): Promise<AdviseReport> {
  const progress = opts.progress ?? silentProgress;
  const params = opts.policy ? resolveStormParams(current, { policy: opts.policy }) : current;
  const policy = POLICIES[params.policy];
  const headroomPct = opts.headroomPct ?? DEFAULT_HEADROOM_PCT;
  const { plan, stormInput, users, nodes } = await planStorm(input, params, opts, progress);
  const budget = receiverBudget(params, headroomPct);
  progress.start('advise', stormInput.steps.length + 2);
  const steps = stormInput.steps.map((step, i) => {
    const advice = adviseStep(policy, step, plan[i], params, budget);
    progress.update(i + 1);
    return advice;
  });
  const paced = steps.filter((s) => s.ratePerSec !== null);
  // Receiver budgets: every node declares its budget less its most senders in any step; a sender ceiling that
  // holds no lane back in any step (a higher one loads no receiver more). Per-sender: the slowest step's rate.
  const acceptRates = policy.name === 'receiver-budget' ? Object.fromEntries(nodes.map((id) => [id, declaredRate(budget(id).perSec, mostSenders(stormInput, id))])) : null;
  const wide = {
    ratePerSec: paced.length ? (acceptRates ? Math.max(...paced.map((s) => s.ratePerSec!)) : Math.min(...paced.map((s) => s.ratePerSec!))) : params.ratePerSec,
    burst: acceptRates ? params.burst : paced.length ? Math.min(...paced.map((s) => s.burst!)) : params.burst,
    backoffBaseMs: Math.max(params.backoffBaseMs, ...steps.map((s) => s.backoffBaseMs ?? 0)),
    acceptBurstMs: Math.max(params.acceptBurstMs, ...steps.map((s) => s.acceptBurstMs ?? 0)),
    ...(acceptRates ? { nodeAcceptRate: acceptRates } : {}),
  };
  const estimates = stormInput.steps.map((step, i) => stepEstimate(policy, step, plan[i], withPacing(params, wide)));
  const estimatedMs = estimates.reduce((a, b) => a + b, 0);
  const wideParams = withPacing(params, wide, Math.max(...estimates));
  const fleetWide = { ...check(stormInput, wideParams), estimatedMs };
  progress.update(stormInput.steps.length + 1);
  const now = check(stormInput, params);
  progress.stop();
  return {
    command: 'advise',
    scenario: input.scenario,
    users,
    nodes: nodes.length,
    policy: { name: policy.name, description: policy.description },
    headroomPct,
    params,
    steps,
    perStepMs: steps.every((s) => s.simulated.settleMs !== null) ? steps.reduce((a, s) => a + s.simulated.settleMs!, 0) : null,
    acceptRates,
    fleetWide,
    drains: drains(policy, stormInput, plan, params, wideParams),
    current: now,
  };
}

/** Most senders node `id` has in any paced step of the change. */
function mostSenders(input: StormInput, id: string): number {
  let most = 0;
  for (const step of input.steps) {
    const from = new Set<string>();
    for (const f of step.flows) if (f.to === id && f.users > 0 && !crashedIn(step, f.from)) from.add(f.from);
    // A handoff: the old process is the one sender to its successor.
    if (step.deploy?.strategy === 'handoff' && step.deploy.node === id) from.add(id);
    most = Math.max(most, from.size);
  }
  return most;
}

/**
 * The paced moves of a step as the policies see them: the plan's flows less a crashed node's, and a handoff's users
 * from the node to itself (its old process to its successor) at the split the agents use for it.
 */
export function pacedFlowsOf(step: StormStep, planned: StepResult): { flows: { from: string; to: string; users: number }[]; split: StormStep['split']; warming: Set<string> } {
  const flows = step.flows.filter((f) => !crashedIn(step, f.from));
  // New processes warm up: nodes that join with the step, and a handoff's successor.
  const before = new Set(step.before.map((n) => n.id));
  const warming = new Set(step.after.filter((n) => !before.has(n.id)).map((n) => n.id));
  if (step.deploy?.strategy !== 'handoff' || !planned.deploy) return { flows, split: step.split, warming };
  const node = step.deploy.node;
  warming.add(node);
  return { flows: [...flows, { from: node, to: node, users: planned.deploy.users }], split: handoffSplit(step.split ?? flowSplit(step.flows, step.before.length), node), warming };
}

/** A restart in place: the last user's slot (restartBackInMs + its place at the node's declared acceptRate), its connection, a tick. */
export function restartEstimateMs(users: number, acceptRate: number, p: StormParams): number {
  if (users <= 0) return 0;
  return Math.ceil((p.restartBackInMs + ((users - 1) * 1000) / acceptRate + 1.5 * p.rttMs + p.tickMs) / p.tickMs) * p.tickMs;
}

/** Whether `from` is a node that crashes in `step` (its users drop: not paced). */
function crashedIn(step: StormStep, from: string): boolean {
  return step.departure === 'crash' && !step.after.some((n) => n.id === from);
}

/**
 * Every node that drains (leaves the fleet in a paced step: drain, remove, scale-in, a deploy's drain) or hands its
 * users to a successor: the time its users take to leave at the current and at the advised settings, against the
 * agents' drain deadline (a handoff has the same one).
 */
function drains(policy: PacingPolicy, input: StormInput, plan: StepResult[], now: StormParams, advised: StormParams): DrainAdvice[] {
  const out: DrainAdvice[] = [];
  input.steps.forEach((step, i) => {
    // A handoff is timed against the same deadline: the node's users to its successor.
    if (step.deploy?.strategy === 'handoff') {
      const alone = pacedFlowsOf(step, plan[i]);
      const flows = alone.flows.filter((f) => f.from === step.deploy!.node && f.to === step.deploy!.node);
      const users = flows.reduce((a, f) => a + f.users, 0);
      if (users > 0) out.push({ step: step.label, node: step.deploy.node, users, nowMs: policy.estimateMs({ flows, split: alone.split, warming: alone.warming }, now), advisedMs: policy.estimateMs({ flows, split: alone.split, warming: alone.warming }, advised) });
    }
    drainsOf(policy, step, now, advised, out);
  });
  return out;
}

/** The nodes that leave the fleet in a paced step (drain, remove, scale-in, a deploy's drain), into `out`. */
function drainsOf(policy: PacingPolicy, step: StormStep, now: StormParams, advised: StormParams, out: DrainAdvice[]): void {
  if (step.departure !== 'paced') return;
  const stays = new Set(step.after.map((n) => n.id));
  for (const n of step.before) {
    if (stays.has(n.id)) continue;
    const flows = step.flows.filter((f) => f.from === n.id);
    const users = flows.reduce((a, f) => a + f.users, 0);
    if (users === 0) continue;
    const alone = { flows, split: step.split };
    out.push({ step: step.label, node: n.id, users, nowMs: policy.estimateMs(alone, now), advisedMs: policy.estimateMs(alone, advised) });
  }
}

/** Each receiver's budget: its accept rate and bank (as the storm model has them), less the headroom. */
function receiverBudget(p: StormParams, headroomPct: number): (node: string) => ReceiverBudget {
  const keep = 1 - headroomPct / 100;
  return (node) => {
    const rate = acceptRateOf(p, node);
    const bank = Math.max(1, (rate * p.tickMs) / 1000, (rate * p.acceptBurstMs) / 1000);
    return { perSec: rate * keep, bank: bank * keep };
  };
}

function adviseStep(policy: PacingPolicy, step: StormStep, planned: StepResult, p: StormParams, budget: (node: string) => ReceiverBudget): StepAdvice {
  const crashed = (from: string) => crashedIn(step, from);
  const pacing = policy.pace(pacedFlowsOf(step, planned), budget, p);
  // A crash is not paced: its users drop at once and spread only over the client's first backoff, U(0, base).
  let backoffBaseMs: number | null = null;
  if (step.departure === 'crash') {
    const dropped = new Map<string, number>();
    for (const f of step.flows) if (crashed(f.from)) dropped.set(f.to, (dropped.get(f.to) ?? 0) + f.users);
    backoffBaseMs = Math.max(1, ...[...dropped].map(([to, n]) => Math.ceil((1000 * n) / budget(to).perSec)));
  }
  // A restart in place is not paced by the senders: its node spreads its own users' slots at its declared
  // acceptRate, one a slot and no burst, so that rate may be the whole budget less the headroom.
  const restart = step.deploy?.strategy === 'restart' && planned.deploy ? { node: step.deploy.node, users: planned.deploy.users, acceptRate: roundRateDown(budget(step.deploy.node).perSec) } : null;
  const chosen = {
    ratePerSec: pacing?.ratePerSec ?? p.ratePerSec,
    burst: pacing?.burst ?? p.burst,
    backoffBaseMs: Math.max(p.backoffBaseMs, backoffBaseMs ?? 0),
    acceptBurstMs: Math.max(p.acceptBurstMs, pacing?.needsAcceptBurstMs ?? 0),
    ...(pacing?.acceptRates ? { nodeAcceptRate: pacing.acceptRates } : {}),
    ...(restart ? { nodeAcceptRate: { ...pacing?.acceptRates, [restart.node]: restart.acceptRate } } : {}),
  };
  const estimatedMs = stepEstimate(policy, step, planned, withPacing(p, chosen));
  const settings = withPacing(p, chosen, estimatedMs);
  const alone: StormInput = { initialLoads: Object.fromEntries(planned.loads.filter((l) => l.change !== 'joined').map((l) => [l.id, l.before])), steps: [step] };
  return {
    label: step.label,
    departure: step.departure,
    moved: planned.moved + (planned.deploy?.users ?? 0),
    limitingReceiver: pacing?.limitingReceiver ?? restart?.node ?? null,
    senders: pacing?.senders ?? (restart ? 1 : 0),
    receiverAcceptPerSec: pacing ? acceptRateOf(p, pacing.limitingReceiver) : restart ? acceptRateOf(p, restart.node) : 0,
    receiverUsers: pacing?.receiverUsers ?? restart?.users ?? 0,
    acceptRate: pacing?.acceptRates?.[pacing.limitingReceiver] ?? restart?.acceptRate ?? null,
    maxSenders: pacing?.maxSenders ?? 0,
    ratePerSec: pacing?.ratePerSec ?? null,
    burst: pacing?.burst ?? null,
    backoffBaseMs,
    acceptBurstMs: pacing?.needsAcceptBurstMs ?? null,
    estimatedMs,
    simulated: check(alone, settings),
  };
}

function stepEstimate(policy: PacingPolicy, step: StormStep, planned: StepResult, p: StormParams): number {
  const crashed = (from: string) => crashedIn(step, from);
  const paced = policy.estimateMs(pacedFlowsOf(step, planned), p);
  const dropped = step.flows.some((f) => crashed(f.from)) ? p.rttMs + p.backoffBaseMs + p.tickMs : 0;
  const restarted = step.deploy?.strategy === 'restart' && planned.deploy ? restartEstimateMs(planned.deploy.users, declaredRateOf(p, step.deploy.node), p) : 0;
  return Math.max(paced, dropped, restarted);
}

/** The parameters with these settings; a step is given at least twice its estimate to settle (slow and safe is still done). */
function withPacing(p: StormParams, s: { ratePerSec: number; burst: number; backoffBaseMs: number; acceptBurstMs: number; nodeAcceptRate?: Record<string, number> }, longestStepMs = 0): StormParams {
  return resolveStormParams(p, { ...s, backoffCapMs: Math.max(p.backoffCapMs, s.backoffBaseMs), maxStepMs: Math.min(86_400_000, Math.max(p.maxStepMs, Math.ceil(2 * longestStepMs))) });
}

/** Runs the targeted model and sums up what matters against the accept rates. */
function check(input: StormInput, p: StormParams): PacingCheck {
  const r: StormModeResult = simulateStorm(input, p, 'targeted');
  const worst = r.steps.reduce((a, s) => (s.peakNodeArrivalsPerSec > a.peakNodeArrivalsPerSec ? s : a), r.steps[0]);
  return {
    ratePerSec: p.ratePerSec,
    burst: p.burst,
    backoffBaseMs: p.backoffBaseMs,
    acceptBurstMs: p.acceptBurstMs,
    settleMs: r.totals.settleMs,
    runSeconds: r.totals.runSeconds,
    peakNodeArrivalsPerSec: r.totals.peakNodeArrivalsPerSec,
    peakNode: worst?.peakNode ?? '',
    peakNodeAcceptPerSec: acceptRateOf(p, worst?.peakNode ?? ''),
    overloadSeconds: r.totals.overloadSeconds,
    refused: r.totals.refused,
  };
}
