// Terminal output of `storm`.
import { MAX_RESTART_DELAY_MS } from '@wsring/protocol';
import { restartTakesOf } from '../storm-params.js';
import type { StormModeResult, StormReport } from '../types.js';
import { downsampleMax, int, ms, ratio, sparkline, table } from './format.js';
import { gateLines, gateText } from './gate-text.js';

/** Rows of per-node sparklines shown before the rest is summarised. */
export const MAX_NODE_ROWS = 16;
/** Overloaded nodes listed by name in a warning. */
const MAX_WARNED = 5;

export function modeName(r: StormReport, m: StormModeResult): string {
  return m.mode === 'targeted' ? `targeted, ${r.params.policy}` : `LB (${r.params.lb}), drop ${r.params.lbDrop === 'all' ? 'all' : 'affected'}`;
}

/** The rates a per-node map holds: "1,000/s" when all agree, "1,000/s (node-3 500/s, …)" when some differ. */
export function ratesText(rates: Record<string, number>, fleet: number, max = 4): string {
  const own = Object.entries(rates).filter(([, v]) => v !== fleet);
  if (own.length === 0) return `${int(fleet)}/s`;
  const listed = own.slice(0, max).map(([id, v]) => `${id} ${int(v)}/s`);
  return `${int(fleet)}/s (${listed.join(', ')}${own.length > max ? `, … ${own.length - max} more` : ''})`;
}

/** How the targeted mode paces, in one line. */
export function pacingLine(r: StormReport): string {
  const p = r.params;
  const common = `burst ${p.burst}, jitterMs ${p.jitterMs}, graceMs ${p.graceMs}, ignorePct ${p.ignorePct}`;
  return p.policy === 'receiver-budget'
    ? `pacing receiver-budget (today's agents): senders share each receiver's declared acceptRate ${ratesText(r.acceptRate, p.acceptRate)}, a lane per receiver; sender ceiling ratePerSec ${p.ratePerSec}, ${common}`
    : `pacing per-sender (agents before receiver budgets): ratePerSec ${p.ratePerSec}/agent whatever the receivers, ${common}`;
}

export function fleetArrivals(m: StormModeResult): number[] {
  const per = Object.values(m.series.arrivalsPerSec);
  const len = Math.max(0, ...per.map((v) => v.length));
  return Array.from({ length: len }, (_, t) => per.reduce((a, v) => a + (v[t] ?? 0), 0));
}

/** Seconds of the longer of the two runs: both modes are drawn on this one time axis. */
export function sharedSeconds(r: StormReport): number {
  return Math.max(1, r.targeted.totals.runSeconds, r.lb.totals.runSeconds);
}

/**
 * The nodes to draw when not all fit: every node that joins or returns (the receivers that matter most), then the
 * busiest others by peak, up to `max` (or more, if more nodes join than that). In the run's node order.
 */
export function nodesToShow(r: StormReport, series: Record<string, number[]>, max: number): { ids: string[]; all: boolean } {
  const ids = Object.keys(series);
  if (ids.length <= max) return { ids, all: true };
  const joining = new Set(r.joining.filter((id) => id in series));
  const peak = (id: string) => Math.max(0, ...series[id]);
  const others = ids
    .filter((id) => !joining.has(id) && peak(id) > 0)
    .sort((a, b) => peak(b) - peak(a) || (a < b ? -1 : 1))
    .slice(0, Math.max(0, max - joining.size));
  const chosen = new Set([...joining, ...others]);
  return { ids: ids.filter((id) => chosen.has(id)), all: false };
}

/** Consecutive seconds as ranges: [3,4,5,9] -> "3–5, 9". */
export function secondRanges(seconds: readonly number[], max = 4): string {
  const ranges: string[] = [];
  for (let i = 0; i < seconds.length; ) {
    let j = i;
    while (j + 1 < seconds.length && seconds[j + 1] === seconds[j] + 1) j++;
    ranges.push(i === j ? `${seconds[i]}` : `${seconds[i]}–${seconds[j]}`);
    i = j + 1;
  }
  return ranges.length <= max ? ranges.join(', ') : `${ranges.slice(0, max).join(', ')}, …`;
}

/** One warning per mode whose nodes were pushed past their accept rate, or one line saying none was. */
export function overloadLines(r: StormReport, m: StormModeResult): string[] {
  const over = m.overloads.filter((o) => o.seconds.length > 0);
  if (over.length === 0) {
    return [`${modeName(r, m)}: no node saw more connection attempts in a second than its accept rate${m.totals.refused > 0 ? ` (${int(m.totals.refused)} attempts refused within a second's bursts)` : ''}`];
  }
  const lines = [
    `WARNING ${modeName(r, m)}: ${over.length} node${over.length === 1 ? '' : 's'} pushed past their accept rate for ${int(m.totals.overloadSeconds)} node-second${m.totals.overloadSeconds === 1 ? '' : 's'}; ${int(m.totals.refused)} attempts refused`,
  ];
  for (const o of over.slice(0, MAX_WARNED)) {
    lines.push(`  ${o.node}: peak ${int(o.peakPerSec)}/s against ${int(o.acceptPerSec)}/s (${(o.peakPerSec / o.acceptPerSec).toFixed(1)}x), over for ${o.seconds.length} s (s ${secondRanges(o.seconds)}), ${int(o.refused)} refused`);
  }
  if (over.length > MAX_WARNED) lines.push(`  … and ${over.length - MAX_WARNED} more node${over.length - MAX_WARNED === 1 ? '' : 's'}`);
  return lines;
}

export function renderStormText(r: StormReport, opts: { width?: number } = {}): string {
  const width = opts.width ?? 60;
  const p = r.params;
  const own = Object.entries(p.nodeAcceptPerSec);
  const out = [
    [`wsring-sim storm`, r.scenario ? `"${r.scenario}"` : '', `${int(r.users)} users`, `${r.nodes.length} nodes`].filter(Boolean).join(' · '),
    pacingLine(r),
    `client backoff ${p.backoffBaseMs}–${p.backoffCapMs} ms full jitter, rttMs ${p.rttMs} · node acceptPerSec ${p.acceptPerSec} (bank ${p.acceptBurstMs} ms)${own.length ? `, ${own.map(([id, v]) => `${id} ${v}`).join(', ')}` : ''} · ${gateText(r)} · seed ${p.seed}`,
    '',
  ];
  const modes = [r.targeted, r.lb];
  out.push(
    table(
      ['', 'users disconnected', 'peak attempts/s (node)', 'peak attempts/s (fleet)', 'refused attempts', 'node-s over accept', 'time to settle (sum of steps)', 'run length', 'end max/mean', 'end min/mean'],
      modes.map((m) => {
        const end = m.steps[m.steps.length - 1].balanceAfter;
        return [modeName(r, m), int(m.totals.disconnected), int(m.totals.peakNodeArrivalsPerSec), int(m.totals.peakFleetArrivalsPerSec), int(m.totals.refused), int(m.totals.overloadSeconds), m.totals.settleMs === null ? 'did not settle' : ms(m.totals.settleMs), `${int(m.totals.runSeconds)} s`, ratio(end.maxOverMean), ratio(end.minOverMean)];
      }),
    ),
  );
  out.push(...emptyNodeNotes(r));
  out.push('', ...modes.flatMap((m) => overloadLines(r, m)), ...drainDeadlineLines(r));
  const deploys = deployRows(r);
  if (deploys.length > 0) out.push('', ...deployIntro(r), table(deployHeader(r), deploys), ...restartCutLines(r), ...restartFailoverLines(r));
  out.push(...gateLines(r));
  if (r.targeted.steps.length > 1) {
    out.push('', 'Per step (targeted | LB): users disconnected, peak attempts/s at one node, node-seconds over its accept rate, time to settle');
    out.push(
      table(
        ['step', 'disconnected', 'peak/s', 'over', 'settle', '|', 'disconnected', 'peak/s', 'over', 'settle'],
        r.targeted.steps.map((s, i) => {
          const l = r.lb.steps[i];
          const settle = (x: number | null) => (x === null ? 'no' : ms(x));
          return [s.label, int(s.disconnected), int(s.peakNodeArrivalsPerSec), int(s.overloadSeconds), settle(s.settleMs), '|', int(l.disconnected), int(l.peakNodeArrivalsPerSec), int(l.overloadSeconds), settle(l.settleMs)];
        }),
      ),
    );
  }
  const seconds = sharedSeconds(r);
  const perChar = Math.max(1, Math.ceil(seconds / width));
  const chars = Math.ceil(seconds / perChar);
  const line = (values: readonly number[], max: number) => sparkline(downsampleMax(pad(values, seconds), chars), max);
  const fleet = modes.map(fleetArrivals);
  out.push('', `Reconnect wave: connection attempts per second over the fleet (one character = ${perChar} s, one time axis; each mode on its own scale, its peak on the left)`);
  const nameWidth = Math.max(...modes.map((m) => modeName(r, m).length));
  modes.forEach((m, i) => {
    const peak = Math.max(0, ...fleet[i]);
    out.push(`${modeName(r, m).padEnd(nameWidth)} ${`${int(peak)}/s`.padStart(10)} ${line(fleet[i], peak)}`);
  });
  for (const m of modes) {
    out.push('', `${modeName(r, m)}: attempts per second at each node (scale: the busiest node; * joins or returns; over: seconds past its accept rate)`);
    const series = m.series.arrivalsPerSec;
    const { ids, all } = nodesToShow(r, series, MAX_NODE_ROWS);
    const peak = Math.max(0, ...Object.values(series).flat());
    const joining = new Set(r.joining);
    const overBy = new Map(m.overloads.map((o) => [o.node, o.seconds.length]));
    const idWidth = Math.max(...ids.map((id) => id.length)) + 1;
    for (const id of ids) {
      const v = series[id];
      const name = `${id}${joining.has(id) ? '*' : ''}`.padEnd(idWidth);
      const over = overBy.get(id) ? `  over ${overBy.get(id)} s` : '';
      out.push(`${name} ${String(int(Math.max(0, ...v))).padStart(8)}/s of ${int(r.acceptPerSec[id] ?? p.acceptPerSec)}/s ${line(v, peak)}${over}`.trimEnd());
    }
    if (!all) out.push(`(${ids.length} of ${Object.keys(series).length} nodes: every node that joins or returns, then the busiest; the others saw fewer attempts)`);
    const last = m.steps[m.steps.length - 1];
    const missing = last.notOnFleet > 0 ? ` · ${int(last.notOnFleet)} users not on the final fleet (did not settle), counted as missing` : '';
    out.push(`balance at the end: max/mean ${ratio(last.balanceAfter.maxOverMean)}, min/mean ${ratio(last.balanceAfter.minOverMean)}${missing}`);
  }
  return out.join('\n') + '\n';
}

function pad(values: readonly number[], len: number): number[] {
  const out = [...values];
  while (out.length < len) out.push(0);
  return out;
}

/** Says so when a mode ends with nodes far below their fair share: fewer moves bought with empty nodes. */
export function emptyNodeNotes(r: StormReport): string[] {
  return [r.targeted, r.lb].flatMap((m) => {
    const end = m.steps[m.steps.length - 1].balanceAfter;
    if (end.minOverMean >= 0.5) return [];
    const why = m.mode === 'lb' ? 'without affinity, nodes that join or come back from a deploy stay (nearly) empty until users reconnect on their own' : 'the run did not settle';
    return [`note ${modeName(r, m)}: ends with min/mean ${ratio(end.minOverMean)}: ${why}; its fewer disconnects and shorter run are bought with that imbalance.`];
  });
}

const DEPLOY_HEADER = ['step', 'users', 'peak arrivals/s', 'accept', 'restarting (peak)', 'user-s disconnected', 'first frame → last arrival', '|', 'LB: disconnected', 'peak/s', 'over'];

/** Whether some restart in place did not go as planned: a late process, or clients that ignored their frame. */
function restartsCanFail(r: StormReport): boolean {
  return r.targeted.steps.some((s) => s.failover) && (restartTakesOf(r.params) > r.params.restartBackInMs || r.params.ignorePct > 0);
}

/** The deploy table's columns: with restarts that can fail, the users that moved twice beside the restarting ones. */
export function deployHeader(r: StormReport): string[] {
  if (!restartsCanFail(r)) return DEPLOY_HEADER;
  const at = DEPLOY_HEADER.indexOf('restarting (peak)') + 1;
  return [...DEPLOY_HEADER.slice(0, at), 'moved twice', ...DEPLOY_HEADER.slice(at)];
}

/** What the deploy table says, and how restarting users are counted. */
export function deployIntro(r: StormReport): string[] {
  const restarts = r.targeted.steps.some((s) => s.deploy?.strategy === 'restart');
  const p = r.params;
  const takes = restartTakesOf(p);
  const down = takes === p.restartBackInMs ? `${ms(takes)} (restartBackInMs)` : `${ms(takes)} (restartTakesMs; restartBackInMs ${ms(p.restartBackInMs)} as planned)`;
  return [
    `Deploys that keep the ring (targeted | LB): each user of the node reconnects once, to the same node; nobody else moves. Arrivals per second at the node against its accept rate; time from the first reconnect or restart frame to the last arrival.`,
    ...(restarts
      ? [
          `Restart in place: the node is down ${down}; the i-th user's restart frame says come back after restartBackInMs + i / acceptRate. Those users count as disconnected and as restarting (a known return, not dropped: never in the reconnecting figures); their wait is in user-s disconnected.`,
        ]
      : []),
    ...(restarts && restartsCanFail(r)
      ? [
          `Users that reach the node while it is down (their slot comes before the new process serves${p.ignorePct > 0 ? `, or, ${p.ignorePct}%, they ignore the restart frame and come back at once` : ''}) are refused and taken by a stand-in, the next node of their list; once the process serves the stand-ins send them back, paced at the node's declared acceptRate: they move twice (moved twice; the second move is in users disconnected, not in users).`,
        ]
      : []),
  ];
}

/** One row per handoff or restart-in-place step. */
export function deployRows(r: StormReport): string[][] {
  const rows: string[][] = [];
  const twice = restartsCanFail(r);
  r.targeted.steps.forEach((s, i) => {
    if (!s.deploy) return;
    const at = s.receivers.find((x) => x.node === s.deploy!.node);
    const l = r.lb.steps[i];
    const time = s.firstFrameMs === null || at === undefined ? '-' : ms(at.lastArrivalMs - s.firstFrameMs);
    // The node's users: a restart's second moves (back from a stand-in) are disconnects, not users.
    const users = s.failover ? s.restarted + s.failover.ignored : s.disconnected;
    rows.push([
      s.label,
      int(users),
      int(at?.peakArrivalsPerSec ?? 0),
      `${int(r.acceptPerSec[s.deploy.node] ?? r.params.acceptPerSec)}/s`,
      s.deploy.strategy === 'restart' ? int(s.peakRestarting) : '-',
      ...(twice ? [s.failover ? int(s.failover.movedTwice) : '-'] : []),
      int(Math.round(s.userSecondsDisconnected)),
      time,
      '|',
      int(l.disconnected),
      int(l.peakNodeArrivalsPerSec),
      int(l.overloadSeconds),
    ]);
  });
  return rows;
}

/** Restart slots past the protocol's longest delay are cut to it: those users arrive together. */
export function restartCutLines(r: StormReport): string[] {
  const out: string[] = [];
  for (const s of r.targeted.steps) {
    if (s.deploy?.strategy !== 'restart') continue;
    const rate = r.acceptRate[s.deploy.node] ?? r.params.acceptRate;
    const fit = Math.max(0, Math.floor(((MAX_RESTART_DELAY_MS - r.params.restartBackInMs) * rate) / 1000) + 1);
    if (s.restarted > fit) {
      out.push(`WARNING ${s.label}: ${int(s.restarted - fit)} of ${int(s.restarted)} users get a restart delay past the protocol's ${ms(MAX_RESTART_DELAY_MS)} (restartBackInMs + i / acceptRate ${int(rate)}/s); clients cut it to ${ms(MAX_RESTART_DELAY_MS)}, so they arrive together. A node this large drains or hands off instead, or declares a higher acceptRate.`);
    }
  }
  return out;
}

/**
 * Restarts that did not go as planned: how many users moved twice and the time it cost, and any node whose process
 * was not back within the fleet's hold, so the ring dropped it and its users failed over as after a crash.
 */
export function restartFailoverLines(r: StormReport): string[] {
  const steps = r.targeted.steps.filter((s) => s.failover && s.failover.failedOver > 0);
  if (steps.length === 0) return [];
  const p = r.params;
  const twice = steps.reduce((a, s) => a + s.failover!.movedTwice, 0);
  const failed = steps.reduce((a, s) => a + s.failover!.failedOver, 0);
  const ignored = steps.reduce((a, s) => a + s.failover!.ignored, 0);
  const slowest = steps.reduce((a, s) => ((s.settleMs ?? Infinity) > (a.settleMs ?? Infinity) ? s : a));
  const takes = restartTakesOf(p);
  const why = [takes > p.restartBackInMs ? `the new process served ${ms(takes)} after the restart, against restartBackInMs ${ms(p.restartBackInMs)}` : '', ignored > 0 ? `${int(ignored)} clients ignored their restart frame (ignorePct ${p.ignorePct})` : ''].filter(Boolean).join(', and ');
  const out = [
    `WARNING restart in place: ${why}: ${int(failed)} users in ${steps.length} restart${steps.length === 1 ? '' : 's'} failed over to a stand-in, ${int(twice)} of them back on their node by the end of the step (moved twice); the slowest restart (${slowest.label}) settled in ${slowest.settleMs === null ? 'no time: it did not settle' : ms(slowest.settleMs)}.`,
  ];
  const dropped = steps.filter((s) => s.failover!.droppedMs !== null);
  if (dropped.length > 0) {
    const at = dropped.map((s) => s.failover!.droppedMs!);
    const when = Math.min(...at) === Math.max(...at) ? ms(at[0]) : `${ms(Math.min(...at))}–${ms(Math.max(...at))}`;
    const names = `${dropped.slice(0, 3).map((s) => s.label).join(', ')}${dropped.length > 3 ? `, … ${dropped.length - 3} more` : ''}`;
    const back = dropped.every((s) => s.failover!.servedMs !== null) ? 'moved back once its process served and joined the ring again' : 'stay there until its process serves, which some did not within the step';
    out.push(`WARNING ${dropped.length} restart${dropped.length === 1 ? '' : 's'} (${names}): no process served within the fleet's hold of the node (restartBackInMs + the slots' spread + livenessTimeoutMs): the ring dropped it ${when} after the restart and its users failed over as after a crash; they ${back}.`);
  }
  return out;
}

/** A warning when a drain takes longer than the agents' drain deadline (the model lets it finish; agents would not). */
export function drainDeadlineLines(r: StormReport): string[] {
  const deadline = r.params.drainDeadlineMs;
  const late = r.targeted.steps.filter((s) => s.drainMs !== null && s.drainMs > deadline);
  if (late.length === 0) return [];
  const worst = late.reduce((a, s) => (s.drainMs! > a.drainMs! ? s : a));
  return [
    `WARNING ${modeName(r, r.targeted)}: ${late.length} step${late.length === 1 ? '' : 's'} drain${late.length === 1 ? 's' : ''} longer than the agents' drainDeadlineMs ${ms(deadline)} (up to ${ms(worst.drainMs!)}, ${worst.label}): the model lets the drain finish; agents give the users left at the deadline reconnect frames with delays spread over the receivers' accept rates, so they arrive after the node has left.`,
  ];
}
