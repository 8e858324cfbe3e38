// Terminal output of `compare`.
import type { CompareReport } from '../types.js';
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
  out.push(
    '',
    'affinity: a user lands on the same node every time (placement is a function of the user), so a client can find its node',
    'and state keyed by user stays on one node. round-robin and least-connections have none: they move only the users of nodes',
    'that leave, but nodes that join stay empty until users reconnect, and a returning user lands anywhere.',
    'hash-mod-n and jump ignore weights; jump can only add or remove the last node without remapping the others.',
  );
  return out.join('\n') + '\n';
}
