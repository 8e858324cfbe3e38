// Terminal output of `advise`.
import type { AdviseReport, DrainAdvice, PacingCheck } from '../types.js';
import { int, ms, table } from './format.js';

function settle(x: number | null): string {
  return x === null ? 'did not settle' : ms(x);
}

/** "peak 1,800/s at node-41 (accept 2,000/s), 0 node-s over, 0 refused" */
export function checkText(c: PacingCheck): string {
  return `peak ${int(c.peakNodeArrivalsPerSec)}/s at ${c.peakNode || '-'} (accept ${int(c.peakNodeAcceptPerSec)}/s), ${int(c.overloadSeconds)} node-s over, ${int(c.refused)} refused`;
}

function simulatedCells(s: AdviseReport['steps'][number]): string[] {
  return [ms(s.estimatedMs), settle(s.simulated.settleMs), int(s.simulated.peakNodeArrivalsPerSec), int(s.simulated.overloadSeconds), int(s.simulated.refused)];
}

/** The per-step table's header, for the report's policy. */
export function adviseHeader(r: AdviseReport): string[] {
  const tail = ['crash: backoff base ≥', 'bank ≥', 'estimate', 'simulated', 'peak/s', 'over', 'refused'];
  return r.policy.name === 'receiver-budget'
    ? ['step', 'moved', 'senders → slowest receiver', 'users to it', 'its accept', 'declare acceptRate', 'ceiling ≥', ...tail]
    : ['step', 'moved', 'senders → tightest receiver', 'its accept', 'ratePerSec', 'burst', ...tail];
}

export function adviseAlign(r: AdviseReport): ('l' | 'r')[] {
  return adviseHeader(r).map((_, i) => (i === 0 || i === 2 ? 'l' : 'r'));
}

export function adviseRows(r: AdviseReport): string[][] {
  return r.steps.map((s) => {
    const receiver = s.limitingReceiver ? `${s.senders} → ${s.limitingReceiver}` : '-';
    const accept = s.limitingReceiver ? `${int(s.receiverAcceptPerSec)}/s` : '-';
    const crash = [s.backoffBaseMs === null ? '-' : `${int(s.backoffBaseMs)} ms`, s.acceptBurstMs === null ? '-' : `${int(s.acceptBurstMs)} ms`];
    if (r.policy.name === 'receiver-budget') {
      return [
        s.label,
        int(s.moved),
        receiver,
        s.limitingReceiver ? int(s.receiverUsers) : '-',
        accept,
        s.acceptRate === null ? '-' : `${int(s.acceptRate)}/s`,
        s.ratePerSec === null ? '-' : int(s.ratePerSec),
        ...crash,
        ...simulatedCells(s),
      ];
    }
    return [s.label, int(s.moved), receiver, accept, s.ratePerSec === null ? '-' : String(s.ratePerSec), s.burst === null ? '-' : String(s.burst), ...crash, ...simulatedCells(s)];
  });
}

/** The declared rates, grouped: "1,789/s on 40 nodes (node-0 … node-39), 1,796/s on node-40, node-41". */
export function acceptRatesText(rates: Record<string, number>): string {
  const by = new Map<number, string[]>();
  for (const [id, v] of Object.entries(rates)) by.set(v, [...(by.get(v) ?? []), id]);
  return [...by]
    .sort((a, b) => b[1].length - a[1].length || a[0] - b[0])
    .map(([v, ids]) => `${int(v)}/s on ${ids.length > 3 ? `${ids.length} nodes (${ids[0]} … ${ids[ids.length - 1]})` : ids.join(', ')}`)
    .join('; ');
}

/** Drains that need longer than the deadline at the settings of `at`. */
export function lateDrains(r: AdviseReport, at: 'nowMs' | 'advisedMs'): DrainAdvice[] {
  return r.drains.filter((d) => d[at] > r.params.drainDeadlineMs);
}

/** The drains, the slowest first (up to `max`), then a warning per setting under which one misses the deadline. */
export function drainLines(r: AdviseReport, max = 6): string[] {
  if (r.drains.length === 0) return [];
  const deadline = r.params.drainDeadlineMs;
  const slowest = [...r.drains].sort((a, b) => b.nowMs - a.nowMs || (a.node < b.node ? -1 : 1)).slice(0, max);
  const out = [
    `Drains against the agents' drain deadline (drainDeadlineMs ${ms(deadline)}: the users a draining node still holds then get reconnect frames with delays spread over the receivers' accept rates, so they arrive after it has left), time to hand its users over${r.drains.length > max ? ` (the ${max} slowest of ${r.drains.length})` : ''}:`,
    table(
      ['step', 'node', 'users', 'now', 'advised'],
      slowest.map((d) => [d.step, d.node, int(d.users), `${ms(d.nowMs)}${d.nowMs > deadline ? ' (late)' : ''}`, `${ms(d.advisedMs)}${d.advisedMs > deadline ? ' (late)' : ''}`]),
      ['l', 'l', 'r', 'r', 'r'],
    ),
  ];
  for (const [at, what] of [['nowMs', 'at the current settings'], ['advisedMs', 'at the advised settings']] as const) {
    const late = lateDrains(r, at);
    if (late.length === 0) continue;
    const worst = late.reduce((a, d) => (d[at] > a[at] ? d : a));
    out.push(`WARNING: ${what} ${late.length} drain${late.length === 1 ? '' : 's'} need${late.length === 1 ? 's' : ''} longer than the drain deadline ${ms(deadline)} (up to ${ms(worst[at])}, ${worst.node}): lengthen it (--drain-deadline-ms here; the agents' drainDeadlineMs and Kubernetes' terminationGracePeriodSeconds) or ${r.policy.name === 'receiver-budget' ? 'raise the sender ceiling and the receivers\' acceptRate' : 'raise ratePerSec'}.`);
  }
  return out;
}

export function renderAdviseText(r: AdviseReport): string {
  const p = r.params;
  const w = r.fleetWide;
  const c = r.current;
  const budgets = r.policy.name === 'receiver-budget';
  const own = Object.keys(p.nodeAcceptPerSec).length ? ` (${Object.entries(p.nodeAcceptPerSec).map(([id, v]) => `${id} ${int(v)}/s`).join(', ')})` : '';
  const out = [
    [`wsring-sim advise`, r.scenario ? `"${r.scenario}"` : '', `${int(r.users)} users`, `${r.nodes} nodes`].filter(Boolean).join(' · '),
    `policy: ${r.policy.description}`,
    `accept rates: ${int(p.acceptPerSec)}/s a node${own}, bank ${p.acceptBurstMs} ms; headroom kept free ${r.headroomPct}% · jitterMs ${p.jitterMs}, rttMs ${p.rttMs}, ignorePct ${p.ignorePct} · seed ${p.seed}`,
    '',
    budgets
      ? "Per step at the receivers' budgets (declare acceptRate: what the slowest receiver should declare, its accept rate less the headroom, less one per sender; ceiling: the sender ratePerSec that holds no lane back; estimate: the model's arithmetic; simulated: the step run alone at these settings, time to settle, peak attempts/s at one node, node-seconds over an accept rate, refused attempts)"
      : "Safe pacing per step (estimate: the model's arithmetic; simulated: the step run alone at these settings, time to settle, peak attempts/s at one node, node-seconds over an accept rate, refused attempts)",
    table(adviseHeader(r), adviseRows(r), adviseAlign(r)),
    '',
  ];
  const extras = `${w.backoffBaseMs !== p.backoffBaseMs ? `, client backoffBaseMs ${int(w.backoffBaseMs)}` : ''}${w.acceptBurstMs !== p.acceptBurstMs ? `, receivers' accept bank ${int(w.acceptBurstMs)} ms (now ${p.acceptBurstMs})` : ''}`;
  if (budgets && r.acceptRates) {
    out.push(
      `One setting for the whole change: declare acceptRate ${acceptRatesText(r.acceptRates)} (accept rate less the headroom, less the node's most senders in any step); sender ceiling ratePerSec ${int(w.ratePerSec)}, burst ${w.burst}${extras}`,
    );
  } else {
    out.push(`One setting for the whole change (agent pacing is fleet-wide configuration): ratePerSec ${w.ratePerSec}, burst ${w.burst}${extras}`);
  }
  out.push(
    `  takes ${ms(w.estimatedMs)} by estimate; simulated: ${settle(w.settleMs)} (sum of steps), run ${int(w.runSeconds)} s; ${checkText(w)}`,
    `With each step at its own settings (change the ${budgets ? 'settings' : 'pacing'} between steps): ${settle(r.perStepMs)} (sum of the steps' simulated times)`,
    `Now (${budgets ? `acceptRate ${int(p.acceptRate)}/s declared${Object.keys(p.nodeAcceptRate).length ? ' (some nodes their own)' : ''}, ceiling ` : ''}ratePerSec ${p.ratePerSec}, burst ${p.burst}, backoffBaseMs ${p.backoffBaseMs}): simulated ${settle(c.settleMs)} (sum of steps), run ${int(c.runSeconds)} s; ${checkText(c)}`,
  );
  if (c.overloadSeconds > 0) out.push(`WARNING: at the current settings receivers are pushed past their accept rate for ${int(c.overloadSeconds)} node-seconds.`);
  const drains = drainLines(r);
  if (drains.length) out.push('', ...drains);
  if (p.ignorePct > 0) out.push(`note: ${p.ignorePct}% of clients ignore their frame and come back graceMs later through the backoff; the advice assumes they obey.`);
  return out.join('\n') + '\n';
}
