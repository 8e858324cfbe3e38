// `--html`: one self-contained page (inline CSS and SVG, no scripts, no network) with the report's charts.
import type { AdviseReport, CompareReport, PlanReport, Report, StormModeResult, StormReport } from '../types.js';
import { acceptRatesText, adviseHeader, adviseRows, checkText, drainLines, lateDrains } from './advise-text.js';
import { int, ms, pctText, ratio } from './format.js';
import { groupSteps, histogramBuckets, startToEnd } from './plan-text.js';
import { deployHeader, deployIntro, deployRows, drainDeadlineLines, emptyNodeNotes, fleetArrivals, modeName, nodesToShow, overloadLines, pacingLine, restartCutLines, restartFailoverLines, secondRanges, sharedSeconds } from './storm-text.js';
import { policyShort } from './compare-text.js';
import { gateTable } from './gate-text.js';
import { PALETTE, barChart, escapeXml, lineChart, matrixChart, type Limit, type Mark, type Series } from './svg.js';

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}table{border-collapse:collapse;margin:.5em 0}
td,th{padding:.2em .7em;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}.chart{max-width:100%;height:auto}
.grid{stroke:#e5e5e5}.tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}.legend{font-size:12px;fill:#333}
.line{stroke-width:1.5}.marker{stroke:#999;stroke-dasharray:3 3}.note{color:#666}
.cell-value{font-size:10px}h3{font-size:1em;margin-top:1.5em}.warn{color:#8a1c10;background:#fdecea;padding:.4em .7em;border-left:4px solid #c0392b}.limit-label{font-size:11px}`;

function htmlTable(header: string[], rows: string[][]): string {
  const th = header.map((h) => `<th>${escapeXml(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeXml(title)}</title><style>${CSS}</style></head><body><h1>${escapeXml(title)}</h1>${body}</body></html>\n`;
}

export function renderHtml(report: Report): string {
  switch (report.command) {
    case 'plan': return planHtml(report);
    case 'compare': return compareHtml(report);
    case 'storm': return stormHtml(report);
    case 'advise': return adviseHtml(report);
  }
}

/** Above this many nodes the plan report draws a histogram of load against fair share instead of a bar per node. */
const MAX_NODE_BARS = 40;
/** Above this many senders or receivers a step's flows are listed, largest first, instead of drawn as a matrix. */
const MAX_MATRIX = 40;

function movedOverMin(moved: number, minimum: number): string {
  return minimum > 0 ? `${(moved / minimum).toFixed(2)}x` : moved === 0 ? '-' : '∞';
}

/** The users that moved in a group of steps, as a from → to matrix (or the largest flows, for big fleets). */
function flowsHtml(r: PlanReport, group: number, label: string): string {
  const sum = new Map<string, number>();
  for (const s of r.steps) if (s.group === group) for (const f of s.flows) sum.set(`${f.from}\u0000${f.to}`, (sum.get(`${f.from}\u0000${f.to}`) ?? 0) + f.users);
  if (sum.size === 0) return `<p class="note">${escapeXml(`${label}: nobody moves.`)}</p>`;
  const flows = [...sum].map(([k, users]) => {
    const [from, to] = k.split('\u0000');
    return { from, to, users };
  });
  const order = new Map<string, number>();
  for (const s of r.steps) for (const l of s.loads) if (!order.has(l.id)) order.set(l.id, order.size);
  const byOrder = (a: string, b: string) => order.get(a)! - order.get(b)!;
  const rows = [...new Set(flows.map((f) => f.from))].sort(byOrder);
  const cols = [...new Set(flows.map((f) => f.to))].sort(byOrder);
  const total = flows.reduce((a, f) => a + f.users, 0);
  const title = `${label}: users moved from → to (${int(total)} in all${r.steps.filter((s) => s.group === group).length > 1 ? ', summed over its steps' : ''})`;
  if (rows.length > MAX_MATRIX || cols.length > MAX_MATRIX) {
    const top = [...flows].sort((a, b) => b.users - a.users || (a.from < b.from ? -1 : 1)).slice(0, 20);
    return `<h3>${escapeXml(title)}</h3>${htmlTable(['from', 'to', 'users'], top.map((f) => [f.from, f.to, int(f.users)]))}<p class="note">${escapeXml(`the 20 largest of ${int(flows.length)} flows, from ${rows.length} nodes to ${cols.length}`)}</p>`;
  }
  const values = rows.map((from) => cols.map((to) => sum.get(`${from}\u0000${to}`) ?? 0));
  return matrixChart({ id: `flows-${group}`, title, rows, cols, values, rowLabel: 'from', colLabel: 'to' });
}

function planHtml(r: PlanReport): string {
  const rows = groupSteps(r.steps);
  const loads = startToEnd(r.steps);
  const last = r.steps[r.steps.length - 1];
  const endFleet = last.loads.filter((l) => l.change !== 'left');
  const totalWeight = endFleet.reduce((a, l) => a + l.weight, 0);
  const fair = (w: number) => (r.users * w) / totalWeight;
  const perStep = r.steps.length > rows.length;
  const body = [
    `<p>${escapeXml([r.scenario, r.algorithm, `${int(r.users)} users`, `${int(r.nodes)} nodes at the start`, `ring seed ${r.ringSeed}`].filter(Boolean).join(' · '))}</p>`,
    '<h2>Users moved per step</h2>',
    htmlTable(
      ['step', 'moved', '%', 'minimum', '%', 'moved/min', 'max/mean after', 'min/mean after'],
      r.steps.map((s) => [s.label, int(s.moved), pctText(s.movedPct), int(s.minimum), pctText(s.minimumPct), movedOverMin(s.moved, s.minimum), ratio(s.balanceAfter.maxOverMean), ratio(s.balanceAfter.minOverMean)]),
    ),
    perStep
      ? htmlTable(
          ['scenario step', 'steps', 'moved', 'minimum', 'moved/min', 'worst max/mean after'],
          rows.map((g) => [g.label, String(g.steps), int(g.moved), int(g.minimum), movedOverMin(g.moved, g.minimum), ratio(g.worstMaxOverMean)]),
        )
      : '',
    barChart({
      id: 'moved-users',
      title: 'Users moved per step, and the minimum any weight-following placement must move',
      labels: r.steps.map((s) => s.label),
      series: [
        { name: 'moved', values: r.steps.map((s) => s.moved), color: PALETTE[0] },
        { name: 'minimum', values: r.steps.map((s) => s.minimum), color: PALETTE[5] },
      ],
      yLabel: 'users',
      many: 'steps',
    }),
    barChart({
      id: 'balance-per-step',
      title: 'Balance after each step: the most and least loaded node against their fair share (1 and 1 is perfect)',
      labels: r.steps.map((s) => s.label),
      series: [
        { name: 'max/mean', values: r.steps.map((s) => s.balanceAfter.maxOverMean), color: PALETTE[1] },
        { name: 'min/mean', values: r.steps.map((s) => s.balanceAfter.minOverMean), color: PALETTE[2] },
        { name: 'moved/min', values: r.steps.map((s) => (s.minimum > 0 ? s.moved / s.minimum : 0)), color: PALETTE[3] },
      ],
      yLabel: 'ratio',
      many: 'steps',
    }),
    '<h2>Who moves where</h2>',
    ...rows.map((g) => flowsHtml(r, g.group, g.label)),
    '<h2>Load per node</h2>',
    loads.length <= MAX_NODE_BARS
      ? barChart({
          id: 'load-per-node',
          title: 'Users per node at the start and at the end',
          labels: loads.map((l) => l.id),
          series: [
            { name: 'start', values: loads.map((l) => l.start), color: PALETTE[7] },
            { name: 'end', values: loads.map((l) => l.end), color: PALETTE[0] },
          ],
          yLabel: 'users',
        })
      : (() => {
          const buckets = histogramBuckets(endFleet.map((l) => l.after / fair(l.weight)));
          return barChart({
            id: 'load-histogram',
            title: `Load per node at the end, against fair share: nodes per bucket of load / fair (${int(endFleet.length)} nodes)`,
            labels: buckets.map((b) => b.label),
            series: [{ name: 'nodes', values: buckets.map((b) => b.count), color: PALETTE[0] }],
            yLabel: 'nodes',
          });
        })(),
    perStep ? loadsPerStepHtml(r) : '',
    `<p class="note">Placement took ${escapeXml(ms(r.timing.planMs))} after hashing the users (${escapeXml(ms(r.timing.usersMs))}); peak RSS ${r.timing.peakRssMb} MB.</p>`,
  ];
  return page('wsring-sim plan', body.join('\n'));
}

/** Users on each node after every step (a rolling deploy: the node being deployed at 0 while it is down). */
function loadsPerStepHtml(r: PlanReport): string {
  const ids: string[] = [];
  for (const s of r.steps) for (const l of s.loads) if (!ids.includes(l.id)) ids.push(l.id);
  const after = (id: string) => [r.steps[0].loads.find((l) => l.id === id)?.before ?? 0, ...r.steps.map((s) => s.loads.find((l) => l.id === id && l.change !== 'left')?.after ?? 0)];
  if (ids.length <= 16) {
    return lineChart({
      id: 'loads-per-step',
      title: 'Users per node after each step (0: the start; a node down for its deploy is at 0)',
      series: ids.map((id, i) => ({ name: id, values: after(id), color: PALETTE[i % PALETTE.length] })),
      yLabel: 'users',
      xLabel: 'step',
    });
  }
  const per = ids.map(after);
  const at = (k: number) => per.map((v) => v[k]).filter((v) => v > 0);
  const steps = r.steps.length + 1;
  return lineChart({
    id: 'loads-per-step',
    title: `Users per node after each step: most, mean and least loaded of the nodes up (${ids.length} nodes)`,
    series: [
      { name: 'most', values: Array.from({ length: steps }, (_, k) => Math.max(0, ...at(k))), color: PALETTE[1] },
      { name: 'mean', values: Array.from({ length: steps }, (_, k) => at(k).reduce((a, b) => a + b, 0) / Math.max(1, at(k).length)), color: PALETTE[0] },
      { name: 'least', values: Array.from({ length: steps }, (_, k) => Math.min(...at(k))), color: PALETTE[2] },
    ],
    yLabel: 'users',
    xLabel: 'step',
  });
}

function compareHtml(r: CompareReport): string {
  const s = r.strategies;
  const body = [
    `<p>${escapeXml([r.scenario, `${int(r.users)} users`, r.steps.length <= 3 ? r.steps.map((x) => x.label).join(', ') : `${r.steps.length} steps`].filter(Boolean).join(' · '))}</p>`,
    htmlTable(
      ['strategy', 'affinity', 'weights', 'moved', '%', 'moved/min', 'max/mean after', 'min/mean after', 'stddev after'],
      s.map((x) => [x.strategy, x.affinity ? 'yes' : 'no', x.weighted ? 'yes' : 'no', int(x.moved), pctText(x.movedPct), x.minimum > 0 ? `${(x.moved / x.minimum).toFixed(2)}x` : '-', ratio(x.balanceAfter.maxOverMean), ratio(x.balanceAfter.minOverMean), `${x.balanceAfter.stddevPct.toFixed(1)}%`]),
    ),
    barChart({
      id: 'moved-users',
      title: 'Users moved by the whole change',
      labels: s.map((x) => x.strategy),
      series: [
        { name: 'moved', values: s.map((x) => x.moved), color: PALETTE[0] },
        { name: 'minimum', values: s.map((x) => x.minimum), color: PALETTE[5] },
      ],
      yLabel: 'users',
    }),
    barChart({
      id: 'balance',
      title: 'Balance after the change: most and least loaded node against their fair share (1 and 1 is perfect)',
      labels: s.map((x) => x.strategy),
      series: [
        { name: 'max/mean', values: s.map((x) => x.balanceAfter.maxOverMean), color: PALETTE[1] },
        { name: 'min/mean', values: s.map((x) => x.balanceAfter.minOverMean), color: PALETTE[2] },
      ],
      yLabel: 'load / fair share',
    }),
    ...compareDuringHtml(r),
  ];
  return page('wsring-sim compare', body.join('\n'));
}

function nodeSeries(series: Record<string, number[]>, ids: string[], joining: ReadonlySet<string>): Series[] {
  return ids.map((id, i) => ({ name: joining.has(id) ? `${id} (joins)` : id, values: series[id], color: PALETTE[i % PALETTE.length] }));
}

/**
 * One dashed line per distinct accept rate among the nodes drawn; under receiver budgets, for the targeted mode, a
 * grey one per distinct declared acceptRate that is not an accept rate already (what the senders pace to).
 */
function acceptLimits(r: StormReport, ids: string[], m: StormModeResult): Limit[] {
  const lines = (of: Record<string, number>, fleet: number, what: string, color: string, skip: ReadonlySet<number>): Limit[] => {
    const rate = (id: string) => of[id] ?? fleet;
    const rates = [...new Set(ids.map(rate))].filter((v) => !skip.has(v)).sort((a, b) => a - b);
    return rates.map((v) => ({ label: `${what} ${int(v)}/s${rates.length > 1 ? ` (${ids.filter((id) => rate(id) === v).join(', ')})` : ''}`, value: v, color }));
  };
  const accept = lines(r.acceptPerSec, r.params.acceptPerSec, 'accept rate', '#c0392b', new Set());
  if (m.mode !== 'targeted' || r.params.policy !== 'receiver-budget') return accept;
  return [...accept, ...lines(r.acceptRate, r.params.acceptRate, 'declared acceptRate', '#7f8c8d', new Set(accept.map((l) => l.value)))];
}

function overloadMarks(r: StormReport, m: StormModeResult, ids: string[]): Mark[] {
  const shown = new Set(ids);
  return m.overloads.filter((o) => shown.has(o.node)).flatMap((o) =>
    o.seconds.map((sec) => ({ at: sec, value: m.series.arrivalsPerSec[o.node][sec], color: '#c0392b', title: `${o.node}, second ${sec}: ${int(m.series.arrivalsPerSec[o.node][sec])} attempts against ${int(o.acceptPerSec)}/s` })),
  );
}

function stormHtml(r: StormReport): string {
  const modes = [r.targeted, r.lb];
  const name = (m: StormModeResult) => modeName(r, m);
  const length = sharedSeconds(r);
  const joining = new Set(r.joining);
  const settle = (x: number | null) => (x === null ? 'no' : ms(x));
  const body = [
    `<p>${escapeXml([r.scenario, `${int(r.users)} users`, `${r.nodes.length} nodes`, `backoff ${r.params.backoffBaseMs}–${r.params.backoffCapMs} ms`, `acceptPerSec ${r.params.acceptPerSec}`].filter(Boolean).join(' · '))}</p>`,
    `<p class="note">${escapeXml(pacingLine(r))}</p>`,
    htmlTable(
      ['mode', 'users disconnected', 'peak attempts/s at a node', 'peak attempts/s fleet', 'refused', 'node-seconds over accept rate', 'time to settle (sum of steps)', 'run length'],
      modes.map((m) => [name(m), int(m.totals.disconnected), int(m.totals.peakNodeArrivalsPerSec), int(m.totals.peakFleetArrivalsPerSec), int(m.totals.refused), int(m.totals.overloadSeconds), m.totals.settleMs === null ? 'did not settle' : ms(m.totals.settleMs), `${int(m.totals.runSeconds)} s`]),
    ),
    ...emptyNodeNotes(r).map((n) => `<p class="warn">${escapeXml(n)}</p>`),
    ...modes.map((m) => {
      const lines = overloadLines(r, m);
      return `<p class="${lines[0].startsWith('WARNING') ? 'warn' : 'note'}">${lines.map(escapeXml).join('<br>')}</p>`;
    }),
    ...drainDeadlineLines(r).map((l) => `<p class="warn">${escapeXml(l)}</p>`),
    ...deploysHtml(r, length),
    ...gatesHtml(r),
    r.targeted.steps.length > 1
      ? htmlTable(
          ['step', 'targeted: disconnected', 'peak/s', 'over', 'settle', 'LB: disconnected', 'peak/s', 'over', 'settle'],
          r.targeted.steps.map((t, i) => {
            const l = r.lb.steps[i];
            return [t.label, int(t.disconnected), int(t.peakNodeArrivalsPerSec), int(t.overloadSeconds), settle(t.settleMs), int(l.disconnected), int(l.peakNodeArrivalsPerSec), int(l.overloadSeconds), settle(l.settleMs)];
          }),
        )
      : '',
    lineChart({
      id: 'reconnect-wave',
      title: 'Reconnect wave: connection attempts per second, whole fleet, both modes on one time axis (log scale, so both show; dashed: steps of the targeted run)',
      series: modes.map((m, i) => ({ name: name(m), values: fleetArrivals(m), color: PALETTE[i] })),
      yLabel: 'attempts / s',
      markers: r.targeted.series.stepStarts,
      length,
      log: true,
    }),
    ...modes.flatMap((m) => {
      const { ids, all } = nodesToShow(r, m.series.arrivalsPerSec, SHOWN);
      const note = all ? '' : ` (${ids.length} of ${r.nodes.length} nodes: every node that joins or returns, then the busiest)`;
      const over = m.overloads.filter((o) => o.seconds.length > 0);
      return [
        `<h2>${escapeXml(name(m))}</h2>`,
        lineChart({
          id: `arrivals-${m.mode}`,
          title: `Connection attempts per second at each node${note}; dashed red: accept rate${m.mode === 'targeted' && r.params.policy === 'receiver-budget' ? ' (grey: the acceptRate declared, when another)' : ''}; red dots: seconds past it`,
          series: nodeSeries(m.series.arrivalsPerSec, ids, joining),
          yLabel: 'attempts / s',
          markers: m.series.stepStarts,
          length,
          limits: acceptLimits(r, ids, m),
          marks: overloadMarks(r, m, ids),
        }),
        over.length > 0
          ? htmlTable(
              ['node pushed past its accept rate', 'accept rate', 'peak attempts/s', 'seconds over', 'refused'],
              over.slice(0, 20).map((o) => [o.node, `${int(o.acceptPerSec)}/s`, int(o.peakPerSec), `${o.seconds.length} (s ${secondRanges(o.seconds)})`, int(o.refused)]),
            ) + (over.length > 20 ? `<p class="note">… and ${over.length - 20} more nodes</p>` : '')
          : '',
        lineChart({ id: `connections-${m.mode}`, title: `Connections per node${note}`, series: nodeSeries(m.series.connections, ids, joining), yLabel: 'connections', markers: m.series.stepStarts, length }),
      ];
    }),
  ];
  return page('wsring-sim storm', body.join('\n'));
}

/** Handoff and restart-in-place deploys: their table, and who is disconnected over time when some restart. */
function deploysHtml(r: StormReport, length: number): string[] {
  const rows = deployRows(r);
  if (rows.length === 0) return [];
  const out = [`<h2>Deploys that keep the ring</h2>`, ...deployIntro(r).map((l) => `<p class="note">${escapeXml(l)}</p>`), htmlTable(deployHeader(r).filter((h) => h !== '|'), rows.map((row) => row.filter((c) => c !== '|')))];
  out.push(...[...restartCutLines(r), ...restartFailoverLines(r)].map((l) => `<p class="warn">${escapeXml(l)}</p>`));
  if (r.targeted.totals.restarted > 0 || r.targeted.steps.some((s) => s.failover?.failedOver)) {
    // Users on stand-ins, drawn when some were.
    const standIns = r.targeted.series.standIns?.some((n) => n > 0) ? r.targeted.series.standIns : undefined;
    out.push(
      lineChart({
        id: 'disconnected-targeted',
        title: `Users disconnected at the end of each second (targeted): reconnecting (dropped or moving) and restarting (waiting for their restart slot: a known return)${standIns ? '; and, connected, the users of a restarted node on stand-ins, to move back once it serves' : ''}`,
        series: [
          { name: 'reconnecting', values: r.targeted.series.reconnecting, color: PALETTE[0] },
          { name: 'restarting', values: r.targeted.series.restarting, color: PALETTE[1] },
          ...(standIns ? [{ name: 'on stand-ins', values: standIns, color: PALETTE[2] }] : []),
        ],
        yLabel: 'users',
        markers: r.targeted.series.stepStarts,
        length,
      }),
    );
  }
  return out;
}

/** The receivers' admission gates (targeted): where anyone waited, their table. */
function gatesHtml(r: StormReport): string[] {
  const g = gateTable(r);
  if (!g) return [];
  if (g.rows.length === 0) return [`<p class="note">${escapeXml(g.intro)}</p>`];
  return [
    `<h2>Admission gates</h2>`,
    `<p class="note">${escapeXml(g.intro)}</p>`,
    htmlTable(g.header, g.rows),
    ...(g.more ? [`<p class="note">${escapeXml(g.more)}</p>`] : []),
    ...(g.warning ? [`<p class="warn">${escapeXml(g.warning)}</p>`] : []),
  ];
}

/** Nodes drawn per chart of a storm. */
const SHOWN = 10;

function adviseHtml(r: AdviseReport): string {
  const w = r.fleetWide;
  const c = r.current;
  const p = r.params;
  const settle = (x: number | null) => (x === null ? 'did not settle' : ms(x));
  const budgets = r.policy.name === 'receiver-budget';
  const wide = budgets && r.acceptRates ? `declare acceptRate ${acceptRatesText(r.acceptRates)}; sender ceiling ratePerSec ${int(w.ratePerSec)}, burst ${w.burst}` : `ratePerSec ${w.ratePerSec}, burst ${w.burst}, backoffBaseMs ${int(w.backoffBaseMs)}`;
  const now = `${budgets ? `acceptRate ${int(p.acceptRate)}/s declared, ceiling ` : ''}ratePerSec ${p.ratePerSec}, burst ${p.burst}`;
  const late = lateDrains(r, 'nowMs').length + lateDrains(r, 'advisedMs').length;
  const drains = drainLines(r);
  const body = [
    `<p>${escapeXml([r.scenario, `${int(r.users)} users`, `${r.nodes} nodes`, `headroom ${r.headroomPct}%`].filter(Boolean).join(' · '))}</p>`,
    `<p class="note">Policy: ${escapeXml(r.policy.description)}</p>`,
    `<h2>${budgets ? "Per step at the receivers' budgets" : 'Safe pacing per step'}</h2>`,
    htmlTable(adviseHeader(r), adviseRows(r)),
    '<h2>One setting for the whole change</h2>',
    `<p>${escapeXml(`${wide}: estimate ${ms(w.estimatedMs)}; simulated ${settle(w.settleMs)}, run ${int(w.runSeconds)} s; ${checkText(w)}`)}</p>`,
    `<p class="${c.overloadSeconds > 0 ? 'warn' : 'note'}">${escapeXml(`Now (${now}): simulated ${settle(c.settleMs)}, run ${int(c.runSeconds)} s; ${checkText(c)}`)}</p>`,
    ...(r.drains.length
      ? [
          '<h2>Drains</h2>',
          `<p class="note">${escapeXml(drains[0])}</p>`,
          htmlTable(
            ['step', 'node', 'users', 'now', 'advised'],
            r.drains.map((d) => [d.step, d.node, int(d.users), ms(d.nowMs), ms(d.advisedMs)]),
          ),
          ...(late ? drains.filter((l) => l.startsWith('WARNING')).map((l) => `<p class="warn">${escapeXml(l)}</p>`) : []),
        ]
      : []),
  ];
  return page('wsring-sim advise', body.join('\n'));
}

/** During the change: the table, imbalance over time for every strategy, and users per node over time for each. */
function compareDuringHtml(r: CompareReport): string[] {
  const p = r.params;
  if (!p) return [];
  const s = r.strategies.filter((x) => x.during);
  const out = [
    '<h2>During the change</h2>',
    `<p class="note">${escapeXml(`Each strategy's moves through the storm model (${policyShort(p)}, burst ${p.burst}, jitterMs ${p.jitterMs}, acceptPerSec ${p.acceptPerSec}); without affinity the users of leaving nodes go through the balancer. Every strategy over the same ${int(r.horizonSeconds)} s.`)}</p>`,
    htmlTable(
      ['strategy', 'disconnected', 'peak attempts/s (node)', 'node-s over accept', 'run', 'new nodes < 90% of target', 'still under at the end', 'worst min/mean', 'imbalance·s'],
      s.map((x) => {
        const d = x.during!;
        return [x.strategy, int(d.disconnected), int(d.peakNodeArrivalsPerSec), int(d.overloadSeconds), `${int(d.runSeconds)} s`, `${int(d.newNodesUnderloadedSeconds)} s`, d.newNodesStillUnderloaded.join(', ') || '-', ratio(d.worstMinOverMean), d.imbalanceSeconds.toFixed(1)];
      }),
    ),
    lineChart({
      id: 'imbalance-over-time',
      title: 'Imbalance over time: max/mean − min/mean of the fleet each second (0 is perfect); its area is imbalance·s',
      series: s.map((x, i) => ({ name: x.strategy, values: x.during!.imbalance, color: PALETTE[i % PALETTE.length] })),
      yLabel: 'max/mean − min/mean',
      length: r.horizonSeconds,
    }),
  ];
  for (const x of s) {
    const d = x.during!;
    const ids = Object.keys(d.connections);
    const shown = ids.length <= 10 ? ids : [...new Set([...d.joining.filter((id) => id in d.connections), ...ids])].slice(0, 10);
    const joining = new Set(d.joining);
    out.push(
      lineChart({
        id: `during-${x.strategy}`,
        title: `${x.strategy}: users on each node over time${ids.length > shown.length ? ` (${shown.length} of ${ids.length} nodes, those that join first)` : ''}`,
        series: shown.map((id, i) => ({ name: joining.has(id) ? `${id} (joins)` : id, values: d.connections[id], color: PALETTE[i % PALETTE.length] })),
        yLabel: 'users',
        length: r.horizonSeconds,
      }),
    );
  }
  return out;
}
