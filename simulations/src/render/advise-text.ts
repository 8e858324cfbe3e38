// Terminal output of `advise`.
import type { AdviseReport, PacingCheck } from '../types.js';
import { int, ms, table } from './format.js';

function settle(x: number | null): string {
  return x === null ? 'did not settle' : ms(x);
}

/** "peak 1,800/s at node-41 (accept 2,000/s), 0 node-s over, 0 refused" */
export function checkText(c: PacingCheck): string {
  return `peak ${int(c.peakNodeArrivalsPerSec)}/s at ${c.peakNode || '-'} (accept ${int(c.peakNodeAcceptPerSec)}/s), ${int(c.overloadSeconds)} node-s over, ${int(c.refused)} refused`;
}

export function adviseRows(r: AdviseReport): string[][] {
  return r.steps.map((s) => [
    s.label,
    int(s.moved),
    s.limitingReceiver ? `${s.senders} → ${s.limitingReceiver}` : '-',
    s.limitingReceiver ? `${int(s.receiverAcceptPerSec)}/s` : '-',
    s.ratePerSec === null ? '-' : String(s.ratePerSec),
    s.burst === null ? '-' : String(s.burst),
    s.backoffBaseMs === null ? '-' : `${int(s.backoffBaseMs)} ms`,
    s.acceptBurstMs === null ? '-' : `${int(s.acceptBurstMs)} ms`,
    ms(s.estimatedMs),
    settle(s.simulated.settleMs),
    int(s.simulated.peakNodeArrivalsPerSec),
    int(s.simulated.overloadSeconds),
    int(s.simulated.refused),
  ]);
}

export const ADVISE_HEADER = ['step', 'moved', 'senders → tightest receiver', 'its accept', 'ratePerSec', 'burst', 'crash: backoff base ≥', 'bank ≥', 'estimate', 'simulated', 'peak/s', 'over', 'refused'];

export function renderAdviseText(r: AdviseReport): string {
  const p = r.params;
  const w = r.fleetWide;
  const c = r.current;
  const out = [
    [`wsring-sim advise`, r.scenario ? `"${r.scenario}"` : '', `${int(r.users)} users`, `${r.nodes} nodes`].filter(Boolean).join(' · '),
    `policy: ${r.policy.description}`,
    `accept rates: ${int(p.acceptPerSec)}/s a node${Object.keys(p.nodeAcceptPerSec).length ? ` (${Object.entries(p.nodeAcceptPerSec).map(([id, v]) => `${id} ${int(v)}/s`).join(', ')})` : ''}, bank ${p.acceptBurstMs} ms; headroom kept free ${r.headroomPct}% · jitterMs ${p.jitterMs}, rttMs ${p.rttMs}, ignorePct ${p.ignorePct} · seed ${p.seed}`,
    '',
    'Safe pacing per step (estimate: the model\'s arithmetic; simulated: the step run alone at these settings, time to settle, peak attempts/s at one node, node-seconds over an accept rate, refused attempts)',
    table(ADVISE_HEADER, adviseRows(r), ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']),
    '',
    `One setting for the whole change (agent pacing is fleet-wide configuration): ratePerSec ${w.ratePerSec}, burst ${w.burst}${w.backoffBaseMs !== p.backoffBaseMs ? `, client backoffBaseMs ${int(w.backoffBaseMs)}` : ''}${w.acceptBurstMs !== p.acceptBurstMs ? `, receivers' accept bank ${int(w.acceptBurstMs)} ms (now ${p.acceptBurstMs})` : ''}`,
    `  takes ${ms(w.estimatedMs)} by estimate; simulated: ${settle(w.settleMs)} (sum of steps), run ${int(w.runSeconds)} s; ${checkText(w)}`,
    `With each step at its own settings (change the pacing between steps): ${settle(r.perStepMs)} (sum of the steps' simulated times)`,
    `Now (ratePerSec ${p.ratePerSec}, burst ${p.burst}, backoffBaseMs ${p.backoffBaseMs}): simulated ${settle(c.settleMs)} (sum of steps), run ${int(c.runSeconds)} s; ${checkText(c)}`,
  ];
  if (c.overloadSeconds > 0) out.push(`WARNING: at the current settings receivers are pushed past their accept rate for ${int(c.overloadSeconds)} node-seconds.`);
  if (p.ignorePct > 0) out.push(`note: ${p.ignorePct}% of clients ignore their frame and come back graceMs later through the backoff; the advice assumes they obey.`);
  return out.join('\n') + '\n';
}
