// `plan`: users moved per step (with the theoretical minimum beside it) and load per node before and after.
import { balanceOf, minimumMoves } from './balance.js';
import { expandSteps } from './cluster.js';
import { SimError } from './errors.js';
import { silentProgress, type Progress } from './progress.js';
import { FLOW_SHIFT, RingTracker, type RingSettings, type StepCount } from './tracker.js';
import { loadUserHashes, type UserHashes } from './users.js';
import { socketsOf } from './sessions.js';
import type { ClusterSpec, ExpandedStep, Flow, NodeLoad, PlanReport, SimNode, StepResult, StepSpec } from './types.js';

export interface RunOptions {
  /** Threads for hashing synthetic users (default 1). */
  workers?: number;
  maxUsers?: number;
  progress?: Progress;
}

export interface PlanInput {
  cluster: ClusterSpec;
  steps: StepSpec[];
  /** Name shown in reports. */
  scenario?: string;
}

export function ringSettings(cluster: ClusterSpec): RingSettings {
  return { algorithm: cluster.algorithm, ringSeed: cluster.ringSeed, pointsPerWeight: cluster.pointsPerWeight, tableSize: cluster.tableSize };
}

/** Hashes the scenario's users (synthetic or from a file), sorted, reporting progress as it goes. */
export async function hashScenarioUsers(input: PlanInput, opts: RunOptions, progress: Progress): Promise<UserHashes> {
  const { users, ringSeed } = input.cluster;
  progress.start('hashing users', users.kind === 'synthetic' ? users.count : users.kind === 'ids' ? users.ids.length : 0);
  const hashes = await loadUserHashes(users, { ringSeed, workers: opts.workers, maxUsers: opts.maxUsers, onProgress: (done) => progress.update(done) });
  progress.stop();
  if (hashes.sorted.length === 0) {
    throw users.kind === 'file'
      ? new SimError('USERS_FILE', `users file ${users.path} has no user ids: nothing to place`)
      : new SimError('INVALID_OPTION', `users: ${users.kind === 'ids' ? 'an empty list' : '0'}: nothing to place (give at least 1 user)`);
  }
  return hashes;
}

export async function runPlan(input: PlanInput, opts: RunOptions = {}): Promise<PlanReport> {
  const progress = opts.progress ?? silentProgress;
  const t0 = performance.now();
  const expanded = expandSteps(input.cluster.nodes, input.steps);
  const { sorted, workers } = await hashScenarioUsers(input, opts, progress);
  const t1 = performance.now();
  const steps = await planSteps(ringSettings(input.cluster), input.cluster.nodes, expanded, sorted, progress);
  const t2 = performance.now();
  return {
    command: 'plan',
    scenario: input.scenario,
    algorithm: input.cluster.algorithm,
    ringSeed: input.cluster.ringSeed,
    users: sorted.length,
    nodes: input.cluster.nodes.length,
    steps,
    totals: { moved: sum(steps.map((s) => s.moved)), minimum: sum(steps.map((s) => s.minimum)) },
    ...sessionsOf(input.cluster, sorted.length, steps),
    timing: {
      usersMs: round1(t1 - t0),
      planMs: round1(t2 - t1),
      totalMs: round1(t2 - t0),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      workers,
    },
  };
}

function sessionsOf(cluster: ClusterSpec, users: number, steps: StepResult[]): Pick<PlanReport, 'sessions'> {
  const s = cluster.sessionsPerUser;
  if (!s) return {};
  return {
    sessions: {
      perUser: { spec: s.spec, mean: s.mean },
      sockets: socketsOf(users, s).expected,
      steps: steps.map((step) => {
        const moved = socketsOf(step.moved, s);
        return { label: step.label, movedUsers: step.moved, movedSockets: moved.expected, low: moved.low, high: moved.high };
      }),
    },
  };
}

/** Each step's rings and changed ranges, for whoever needs more than the counts (the storm model's budget split). */
export type RingsHook = (step: number, rings: Pick<StepCount, 'prev' | 'next' | 'moves'>) => void;

/** Runs the expanded steps with one algorithm over the users' sorted hashes. */
export async function planSteps(settings: RingSettings, initial: SimNode[], expanded: ExpandedStep[], hashes: Uint32Array, progress: Progress = silentProgress, onRings?: RingsHook): Promise<StepResult[]> {
  // Rendezvous looks every user up at every step: count users; the others count steps.
  const byUser = settings.algorithm === 'rendezvous';
  let scanned = 0;
  if (byUser) progress.start('rendezvous', hashes.length * (expanded.length + 1));
  else if (expanded.length > 1) progress.start('planning', expanded.length);
  const tracker = await RingTracker.create(settings, initial, hashes, byUser ? (n) => progress.update((scanned += n)) : undefined);
  const { registry } = tracker;
  const users = hashes.length;
  const out: StepResult[] = [];
  expanded.forEach((step, i) => {
    const loadBefore = (id: string) => tracker.loads[registry.indexOf(id)];
    const beforeLoads = step.before.map((n) => loadBefore(n.id));
    const count = tracker.step(step.after);
    const afterIds = new Set(step.after.map((n) => n.id));
    const beforeIds = new Set(step.before.map((n) => n.id));
    const weightAfter = new Map(step.after.map((n) => [n.id, n] as const));
    const loads: NodeLoad[] = [
      ...step.before.map((n, k) => {
        const now = weightAfter.get(n.id) ?? n;
        const stays = afterIds.has(n.id);
        return withZone({ id: n.id, weight: now.weight, before: beforeLoads[k], after: stays ? tracker.loads[registry.indexOf(n.id)] : 0, ...(stays ? {} : { change: 'left' as const }) }, now.zone);
      }),
      ...step.after
        .filter((n) => !beforeIds.has(n.id))
        .map((n) => withZone({ id: n.id, weight: n.weight, before: 0, after: tracker.loads[registry.indexOf(n.id)], change: 'joined' }, n.zone)),
    ];
    const flows: Flow[] = [...count.flows].map(([key, n]) => ({ from: registry.ids[Math.floor(key / FLOW_SHIFT)], to: registry.ids[key % FLOW_SHIFT], users: n }));
    flows.sort((a, b) => b.users - a.users || cmp(a.from, b.from) || cmp(a.to, b.to));
    onRings?.(i, count);
    const minimum = minimumMoves(users, step.before, step.after);
    out.push({
      group: step.group,
      label: step.label,
      kind: step.kind,
      departure: step.departure,
      users,
      moved: count.moved,
      movedPct: pct(count.moved, users),
      minimum,
      minimumPct: pct(minimum, users),
      loads,
      balanceBefore: balanceOf(step.before, beforeLoads),
      balanceAfter: balanceOf(step.after, step.after.map((n) => tracker.loads[registry.indexOf(n.id)])),
      flows,
      // A handoff or restart in place: the ring is the same, the node's users reconnect to it once.
      ...(step.deploy ? { deploy: { ...step.deploy, users: beforeLoads[step.before.findIndex((n) => n.id === step.deploy!.node)] } } : {}),
    });
    if (!byUser && expanded.length > 1) progress.update(i + 1);
  });
  progress.stop();
  return out;
}

/** Puts the zone right after the weight, so JSON reads in a natural order. */
function withZone(load: NodeLoad, zone: string | undefined): NodeLoad {
  if (!zone) return load;
  const { id, weight, ...rest } = load;
  return { id, weight, zone, ...rest };
}

export function pct(part: number, whole: number): number {
  return whole === 0 ? 0 : (100 * part) / whole;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
