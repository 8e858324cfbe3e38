// `storm`: the exact plan (who moves where) fed through the reconnect model, targeted against the load balancer.
import { expandSteps } from './cluster.js';
import { hashScenarioUsers, planSteps, ringSettings, type PlanInput, type RunOptions } from './plan.js';
import { silentProgress } from './progress.js';
import { simulateStorm, type StormInput } from './storm.js';
import type { StormParams, StormReport } from './types.js';

export async function runStorm(input: PlanInput, params: StormParams, opts: RunOptions = {}): Promise<StormReport> {
  const progress = opts.progress ?? silentProgress;
  const expanded = expandSteps(input.cluster.nodes, input.steps);
  const { sorted } = await hashScenarioUsers(input, opts, progress);
  const plan = await planSteps(ringSettings(input.cluster), input.cluster.nodes, expanded, sorted, progress);
  const stormInput: StormInput = {
    initialLoads: Object.fromEntries(plan[0].loads.map((l) => [l.id, l.before])),
    steps: expanded.map((s, i) => ({ label: s.label, kind: s.kind, departure: s.departure, before: s.before, after: s.after, flows: plan[i].flows })),
  };
  const steps = stormInput.steps.length;
  progress.start('storm targeted', steps);
  const targeted = simulateStorm(stormInput, params, 'targeted', { onStep: (d) => progress.update(d) });
  progress.start('storm LB', steps);
  const lb = simulateStorm(stormInput, params, 'lb', { onStep: (d) => progress.update(d) });
  progress.stop();
  const nodes: string[] = [];
  const seen = new Set<string>();
  for (const s of expanded) for (const n of [...s.before, ...s.after]) if (!seen.has(n.id)) { seen.add(n.id); nodes.push(n.id); }
  return { command: 'storm', scenario: input.scenario, users: sorted.length, params, nodes, targeted, lb };
}
