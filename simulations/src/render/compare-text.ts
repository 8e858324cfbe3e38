// Terminal output of `compare`.
import { UNDERLOADED } from '../during.js';
import type { CompareReport, StormParams } from '../types.js';
import { bar, int, ms, pctText, ratio, table } from './format.js';

export function renderCompareText(r: CompareReport, opts: { timing?: boolean } = {}): string {
  const minimum = r.steps.reduce((a, s) => a + s.minimum, 0);
  const change = r.steps.length <= 3 ? r.steps.map((s) => s.label).join(', ') : `${r.steps.length} steps`;
  const out = [
    [`wsring-sim compare`, r.scenario ? `"${r.scenario}"` : '', `${int(r.users)} users`, change].filter(Boolean).join(' · '),
    `minimum any placement that follows the weights must move: ${int(minimum)} (${pctText((100 * minimum) / Math.max(1, r.users))})`,
    '',
  ];
  const maxMoved = Math.max(1, ...r.strategies.map((s) => s.moved));
  const spread = (s: (typeof r.strategies)[number]) => s.balanceAfter.maxOverMean - s.balanceAfter.minOverMean;
  const maxSpread = Math.max(1e-9, ...r.strategies.map(spread));
  const maxImbalance = Math.max(1e-9, ...r.strategies.map((s) => s.during?.imbalanceSeconds ?? 0));
  const header = ['strategy', 'affinity', 'weights', 'moved', '%', 'moved/min', 'max/mean', 'min/mean', 'stddev', 'moved', 'spread (max - min)/mean'];
  if (opts.timing !== false) header.push('time');
  const rows = r.strategies.map((s) => {
    const row = [
      s.strategy,
      s.affinity ? 'yes' : 'no',
      s.weighted ? 'yes' : 'no',
      int(s.moved),
      pctText(s.movedPct),
      minimum > 0 ? `${(s.moved / minimum).toFixed(2)}x` : '-',
      ratio(s.balanceAfter.maxOverMean),
      ratio(s.balanceAfter.minOverMean),
      `${s.balanceAfter.stddevPct.toFixed(1)}%`,
      bar(s.moved, maxMoved, 16).padEnd(16),
      bar(spread(s), maxSpread, 16),
    ];
    if (opts.timing !== false) row.push(ms(s.timeMs));
    return row;
  });
  out.push(table(header, rows, ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l', 'r']));
  const p = r.params;
  if (p) out.push(
    '',
    `During the change (storm model: ${policyShort(p)}, burst ${p.burst}, jitterMs ${p.jitterMs}, acceptPerSec ${p.acceptPerSec}; no affinity: users of leaving nodes go through the balancer; every strategy over the same ${int(r.horizonSeconds)} s)`,
    table(
      ['strategy', 'disconnected', 'peak attempts/s (node)', 'node-s over accept', 'run', `new nodes < ${UNDERLOADED * 100}% of target`, 'worst min/mean', 'imbalance·s', ''],
      r.strategies.map((s) => {
        const d = s.during!;
        const under = d.newNodesStillUnderloaded.length > 0 ? `${int(d.newNodesUnderloadedSeconds)} s, ${d.newNodesStillUnderloaded.length} still at the end` : `${int(d.newNodesUnderloadedSeconds)} s`;
        return [s.strategy, int(d.disconnected), int(d.peakNodeArrivalsPerSec), int(d.overloadSeconds), `${int(d.runSeconds)} s`, under, ratio(d.worstMinOverMean), d.imbalanceSeconds.toFixed(1), bar(d.imbalanceSeconds, maxImbalance, 16)];
      }),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    `new nodes: the longest a node that joins or returns stays below ${UNDERLOADED * 100}% of its target (with affinity: its load once the step is over; without: its fair share).`,
    'imbalance·s: the sum over the seconds of (max/mean − min/mean) over the fleet of that second; users between nodes count as missing.',
  );
  out.push(
    '',
    'affinity: a user lands on the same node every time (placement is a function of the user), so a client can find its node',
    'and state keyed by user stays on one node. round-robin and least-connections have none: they move only the users of nodes',
    'that leave, but nodes that join stay empty until users reconnect (see "new nodes" above), and a returning user lands anywhere.',
    'hash-mod-n and jump ignore weights; jump can only add or remove the last node without remapping the others.',
  );
  return out.join('\n') + '\n';
}

/** The targeted pacing in a few words: "receiver-budget, acceptRate 1000/s, ceiling ratePerSec 1000" or "per-sender, ratePerSec 200/agent". */
export function policyShort(p: StormParams): string {
  return p.policy === 'receiver-budget' ? `receiver-budget, acceptRate ${p.acceptRate}/s, ceiling ratePerSec ${p.ratePerSec}` : `per-sender, ratePerSec ${p.ratePerSec}/agent`;
}
