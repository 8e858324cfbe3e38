// Terminal output of `plan`.
import type { PlanReport, StepResult } from '../types.js';
import { bar, int, ms, pctText, ratio, signed, table } from './format.js';

/** Above this many nodes, load is shown as a histogram instead of a bar per node. */
export const MAX_NODE_BARS = 32;

export interface GroupRow {
  group: number;
  label: string;
  steps: number;
  moved: number;
  minimum: number;
  users: number;
  /** Worst max/mean seen after any step of the group. */
  worstMaxOverMean: number;
  /** Handoff or restart-in-place deploys: users that reconnect once, to their own node (not moves). */
  redeployed: number;
  strategy?: string;
}

/** One row per scenario step: a rolling deploy's drains and returns are summed into one. */
export function groupSteps(steps: StepResult[]): GroupRow[] {
  const rows: GroupRow[] = [];
  for (const s of steps) {
    const last = rows[rows.length - 1];
    if (last && last.group === s.group) {
      last.steps++;
      last.label = s.kind === 'rolling-deploy' ? `rolling deploy${s.deploy ? ` (${s.deploy.strategy})` : ''}` : last.label;
      last.moved += s.moved;
      last.redeployed += s.deploy?.users ?? 0;
      last.minimum += s.minimum;
      last.worstMaxOverMean = Math.max(last.worstMaxOverMean, s.balanceAfter.maxOverMean);
    } else {
      rows.push({ group: s.group, label: s.label, steps: 1, moved: s.moved, minimum: s.minimum, users: s.users, worstMaxOverMean: s.balanceAfter.maxOverMean, redeployed: s.deploy?.users ?? 0, ...(s.deploy ? { strategy: s.deploy.strategy } : {}) });
    }
  }
  return rows;
}

export interface FleetLoad {
  id: string;
  weight: number;
  start: number;
  end: number;
  /** In the fleet at the end of the run. */
  present: boolean;
}

/** Every node that appears in the run, with its users at the start and at the end. */
export function startToEnd(steps: StepResult[]): FleetLoad[] {
  const byId = new Map<string, FleetLoad>();
  steps.forEach((s, i) => {
    for (const l of s.loads) if (!byId.has(l.id)) byId.set(l.id, { id: l.id, weight: l.weight, start: i === 0 ? l.before : 0, end: 0, present: false });
  });
  const last = steps[steps.length - 1];
  for (const l of last?.loads ?? []) {
    const f = byId.get(l.id)!;
    f.end = l.after;
    f.weight = l.weight;
    f.present = l.change !== 'left';
  }
  return [...byId.values()];
}

export function renderPlanText(r: PlanReport, opts: { timing?: boolean; width?: number } = {}): string {
  const out: string[] = [];
  const title = [`wsring-sim plan`, r.scenario ? `"${r.scenario}"` : '', r.algorithm, `${int(r.users)} users`, `${int(r.nodes)} nodes`, `ring seed ${r.ringSeed}`].filter(Boolean);
  out.push(title.join(' · '), '');
  out.push(renderMovedTable(r.steps));
  out.push('');
  out.push(renderLoads(r.steps, opts.width ?? 32));
  if (r.sessions) out.push('', renderSessions(r.sessions));
  if (opts.timing !== false) {
    const t = r.timing;
    out.push('', `time ${ms(t.totalMs)} (hashing users ${ms(t.usersMs)}, placement ${ms(t.planMs)}) · peak RSS ${t.peakRssMb} MB · ${t.workers} thread${t.workers === 1 ? '' : 's'}`);
  }
  return out.join('\n') + '\n';
}

/** Sockets beside users: what the nodes hold and what arrives at the receivers (the agents pace by user). */
export function renderSessions(s: NonNullable<PlanReport['sessions']>): string {
  const head = `Sessions: ${s.perUser.spec} per user (mean ${s.perUser.mean.toFixed(2)}) · ${int(s.sockets)} sockets held · every session of a moved user moves with it, at one pacer turn`;
  return [head, table(['step', 'users moved', 'sockets moved', '99% range'], s.steps.map((x) => [x.label, int(x.movedUsers), int(x.movedSockets), `${int(x.low)}–${int(x.high)}`]), ['l', 'r', 'r', 'r'])].join('\n');
}

export function renderMovedTable(steps: StepResult[]): string {
  const rows = groupSteps(steps);
  const maxMoved = Math.max(1, ...rows.map((g) => g.moved));
  const body = rows.map((g) => [
    g.steps > 1 ? `${g.label} (${g.steps} steps)` : g.label,
    int(g.moved),
    pctText((100 * g.moved) / Math.max(1, g.users)),
    int(g.minimum),
    pctText((100 * g.minimum) / Math.max(1, g.users)),
    g.minimum > 0 ? `${(g.moved / g.minimum).toFixed(2)}x` : g.moved === 0 ? '-' : '∞',
    ratio(g.worstMaxOverMean),
    bar(g.moved, maxMoved, 20),
  ]);
  if (rows.length > 1) {
    const moved = rows.reduce((a, g) => a + g.moved, 0);
    const minimum = rows.reduce((a, g) => a + g.minimum, 0);
    body.push(['total', int(moved), '', int(minimum), '', minimum > 0 ? `${(moved / minimum).toFixed(2)}x` : '-', '', '']);
  }
  const out = ['Users moved per step (minimum: what any placement that follows the weights must move)', table(['step', 'moved', '%', 'minimum', '%', 'moved/min', 'max/mean after', ''], body, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'])];
  for (const g of rows) {
    if (g.redeployed === 0) continue;
    const how = g.strategy === 'restart' ? 'come back to their own node after a restart in place, each at its slot' : "move once each, to their own node's successor process";
    out.push(`${g.label}: ${int(g.redeployed)} users ${how}; the ring does not change and nobody else moves (not counted as moved)`);
  }
  return out.join('\n');
}

export function renderLoads(steps: StepResult[], width: number): string {
  if (steps.length === 0) return '';
  const first = steps[0];
  const last = steps[steps.length - 1];
  const loads = startToEnd(steps);
  const users = first.users;
  const endFleet = last.loads.filter((l) => l.change !== 'left');
  const totalWeight = endFleet.reduce((a, l) => a + l.weight, 0);
  const fair = (w: number) => (users * w) / totalWeight;
  const out: string[] = [];
  const summary = `max/mean ${ratio(first.balanceBefore.maxOverMean)} → ${ratio(last.balanceAfter.maxOverMean)} · min/mean ${ratio(first.balanceBefore.minOverMean)} → ${ratio(last.balanceAfter.minOverMean)} · stddev ${first.balanceBefore.stddevPct.toFixed(1)}% → ${last.balanceAfter.stddevPct.toFixed(1)}%`;
  if (loads.length <= MAX_NODE_BARS) {
    const max = Math.max(1, ...loads.map((l) => Math.max(l.start, l.end)));
    out.push('Load per node: start → end (bar: users at the end; end/fair: against users × weight / total weight)');
    out.push(
      table(
        ['node', 'weight', 'start', 'end', 'change', 'end/fair', ''],
        loads.map((l) => [l.id, String(l.weight), int(l.start), int(l.end), signed(l.end - l.start), !l.present ? 'gone' : ratio(l.end / fair(l.weight)), bar(l.end, max, width)]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
    );
  } else {
    out.push(`Load per node at the end: ${int(endFleet.length)} nodes, users / fair share`);
    out.push(histogram(endFleet.map((l) => l.after / fair(l.weight)), width));
    const ranked = endFleet.map((l) => ({ id: l.id, r: l.after / fair(l.weight) })).sort((a, b) => b.r - a.r || (a.id < b.id ? -1 : 1));
    out.push(`most loaded:  ${ranked.slice(0, 3).map((x) => `${x.id} ${ratio(x.r)}`).join(', ')}`);
    out.push(`least loaded: ${ranked.slice(-3).reverse().map((x) => `${x.id} ${ratio(x.r)}`).join(', ')}`);
  }
  out.push(summary);
  return out.join('\n');
}

/** Nodes per bucket of load/fair: at most ten buckets of 0.05 or more over the observed range. */
export function histogramBuckets(ratios: number[]): { label: string; count: number }[] {
  const lo = Math.floor(Math.min(...ratios) * 20) / 20;
  const hi = Math.ceil(Math.max(...ratios) * 20) / 20 || lo + 0.05;
  const buckets = Math.max(1, Math.min(10, Math.round((hi - lo) / 0.05)));
  const size = (hi - lo) / buckets || 0.05;
  const counts = new Array<number>(buckets).fill(0);
  for (const r of ratios) counts[Math.min(buckets - 1, Math.floor((r - lo) / size))]++;
  return counts.map((count, i) => ({ label: `${(lo + i * size).toFixed(2)}–${(lo + (i + 1) * size).toFixed(2)}`, count }));
}

export function histogram(ratios: number[], width: number): string {
  const buckets = histogramBuckets(ratios);
  const max = Math.max(...buckets.map((b) => b.count));
  return table(['load/fair', 'nodes', ''], buckets.map((b) => [b.label, int(b.count), bar(b.count, max, width)]), ['l', 'r', 'l']);
}
