// Terminal output of `storm`.
import type { StormModeResult, StormReport } from '../types.js';
import { downsampleMax, int, ms, ratio, sparkline, table } from './format.js';

/** Rows of per-node sparklines shown before the rest is summarised. */
export const MAX_NODE_ROWS = 16;

export function modeName(r: StormReport, m: StormModeResult): string {
  return m.mode === 'targeted' ? 'targeted, paced' : `LB (${r.params.lb}), drop ${r.params.lbDrop === 'all' ? 'all' : 'affected'}`;
}

export function fleetArrivals(m: StormModeResult): number[] {
  const per = Object.values(m.series.arrivalsPerSec);
  const len = Math.max(0, ...per.map((v) => v.length));
  return Array.from({ length: len }, (_, t) => per.reduce((a, v) => a + (v[t] ?? 0), 0));
}

export function renderStormText(r: StormReport, opts: { width?: number } = {}): string {
  const width = opts.width ?? 60;
  const p = r.params;
  const out = [
    [`wsring-sim storm`, r.scenario ? `"${r.scenario}"` : '', `${int(r.users)} users`, `${r.nodes.length} nodes`].filter(Boolean).join(' · '),
    `pacing ratePerSec ${p.ratePerSec}/agent, burst ${p.burst}, jitterMs ${p.jitterMs}, graceMs ${p.graceMs}, ignorePct ${p.ignorePct} · client backoff ${p.backoffBaseMs}–${p.backoffCapMs} ms full jitter, rttMs ${p.rttMs} · node acceptPerSec ${p.acceptPerSec} (bank ${p.acceptBurstMs} ms) · seed ${p.seed}`,
    '',
  ];
  const modes = [r.targeted, r.lb];
  out.push(
    table(
      ['', 'users disconnected', 'peak attempts/s (node)', 'peak attempts/s (fleet)', 'refused attempts', 'time to settle (sum of steps)', 'run length'],
      modes.map((m) => [modeName(r, m), int(m.totals.disconnected), int(m.totals.peakNodeArrivalsPerSec), int(m.totals.peakFleetArrivalsPerSec), int(m.totals.refused), m.totals.settleMs === null ? 'did not settle' : ms(m.totals.settleMs), `${int(m.totals.runSeconds)} s`]),
    ),
  );
  if (r.targeted.steps.length > 1) {
    out.push('', 'Per step (targeted | LB): users disconnected, peak attempts/s at one node, time to settle');
    out.push(
      table(
        ['step', 'disconnected', 'peak/s', 'settle', '|', 'disconnected', 'peak/s', 'settle'],
        r.targeted.steps.map((s, i) => {
          const l = r.lb.steps[i];
          const settle = (x: number | null) => (x === null ? 'no' : ms(x));
          return [s.label, int(s.disconnected), int(s.peakNodeArrivalsPerSec), settle(s.settleMs), '|', int(l.disconnected), int(l.peakNodeArrivalsPerSec), settle(l.settleMs)];
        }),
      ),
    );
  }
  const fleet = modes.map(fleetArrivals);
  const max = Math.max(1, ...fleet.flat());
  const seconds = Math.max(...fleet.map((f) => f.length));
  const perChar = Math.max(1, Math.ceil(seconds / width));
  out.push('', `Reconnect wave: connection attempts per second over the fleet (one character = ${perChar} s, same scale, peak ${int(max)}/s)`);
  const nameWidth = Math.max(...modes.map((m) => modeName(r, m).length));
  modes.forEach((m, i) => out.push(`${modeName(r, m).padEnd(nameWidth)}  ${sparkline(downsampleMax(fleet[i], Math.ceil(fleet[i].length / perChar)), max)}`));
  for (const m of modes) {
    out.push('', `${modeName(r, m)}: attempts per second at each node`);
    const entries = Object.entries(m.series.arrivalsPerSec);
    const peak = Math.max(1, ...entries.map(([, v]) => Math.max(0, ...v)));
    const ranked = entries.map(([id, v]) => ({ id, v, peak: Math.max(0, ...v) }));
    const shown =
      ranked.length <= MAX_NODE_ROWS
        ? ranked
        : [...ranked]
            .filter((x) => x.peak > 0)
            .sort((a, b) => b.peak - a.peak || (a.id < b.id ? -1 : 1))
            .slice(0, MAX_NODE_ROWS);
    const idWidth = Math.max(...shown.map((s) => s.id.length));
    for (const s of shown) out.push(`${s.id.padEnd(idWidth)} ${String(int(s.peak)).padStart(8)}/s ${sparkline(downsampleMax(s.v, Math.ceil(s.v.length / perChar)), peak)}`);
    if (shown.length < ranked.length) out.push(`(the ${shown.length} busiest of ${ranked.length} nodes; the others saw ${shown.length < MAX_NODE_ROWS ? 'no attempts' : 'fewer'})`);
    const last = m.steps[m.steps.length - 1];
    const missing = last.notOnFleet > 0 ? ` · ${int(last.notOnFleet)} users not on the final fleet (did not settle), counted as missing` : '';
    out.push(`balance at the end: max/mean ${ratio(last.balanceAfter.maxOverMean)}, min/mean ${ratio(last.balanceAfter.minOverMean)}${missing}`);
  }
  return out.join('\n') + '\n';
}
