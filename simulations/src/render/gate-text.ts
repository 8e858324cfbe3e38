// The receivers' admission gates in `storm`'s terminal output (targeted runs with admissionWaitMs > 0).
import { gateBurst } from '@wsring/node-agent/internal';
import type { StormReport } from '../types.js';
import { int, ms, table } from './format.js';

/** Receiver rows shown before the rest is summarised. */
const MAX_ROWS = 16;

/** How the header names the gate. */
export function gateText(r: StormReport): string {
  const wait = r.params.admissionWaitMs;
  return wait > 0 ? `receivers' admission gate (targeted): wait up to ${ms(wait)}, then overflow` : 'no admission gate (admissionWaitMs 0)';
}

/** The gates' figures for the text and the HTML: where anyone waited, a table; else one line. */
export interface GateTable {
  intro: string;
  header: string[];
  rows: string[][];
  /** A line on the rows left out, if any. */
  more?: string;
  warning?: string;
}

/**
 * Per step and receiver, where a gate held anyone back: peak admitted per second (what the agent counts as arrivals)
 * against the declared rate and its window's burst, users that waited, the longest wait, overflows. Undefined
 * without gates.
 */
export function gateTable(r: StormReport): GateTable | undefined {
  if (r.params.admissionWaitMs <= 0) return undefined;
  const wait = ms(r.params.admissionWaitMs);
  const rows = r.targeted.steps.flatMap((s) =>
    s.receivers.flatMap((x) => (x.gate && (x.gate.waited > 0 || x.gate.overflowed > 0) ? [{ step: s.label, x, gate: x.gate }] : [])),
  );
  const header = ['step', 'receiver', 'admitted', 'peak admitted/s', 'declared + burst', 'waited', 'longest wait', 'overflows'];
  if (rows.length === 0) return { intro: `Admission gates (targeted): every user was admitted at once, within its receiver's declared rate (admissionWaitMs ${wait}).`, header, rows: [] };
  // The receivers that held most, in the order of the run.
  const shown = [...rows].sort((a, b) => b.gate.waited + b.gate.overflowed - (a.gate.waited + a.gate.overflowed)).slice(0, MAX_ROWS);
  const order = new Map(rows.map((row, i) => [row, i]));
  shown.sort((a, b) => order.get(a)! - order.get(b)!);
  const overflowed = rows.reduce((a, row) => a + row.gate.overflowed, 0);
  const left = rows.length - shown.length;
  return {
    intro: `Admission gates (targeted): a receiver's agent admits the users its capacity accepted at the rate it declares now (warming up included), within a second's window of rate + rate/20; a user waits at most admissionWaitMs ${wait}, then passes anyway (an overflow). Receivers where anyone waited:`,
    header,
    rows: shown.map(({ step, x, gate }) => [step, x.node, int(x.arrivals), `${int(gate.peakAdmittedPerSec)}/s`, `${int(x.acceptRate)} + ${int(gateBurst(x.acceptRate))}/s`, int(gate.waited), ms(gate.longestWaitMs), int(gate.overflowed)]),
    ...(left > 0 ? { more: `… and ${left} more receiver-step${left === 1 ? '' : 's'} where users waited` } : {}),
    ...(overflowed > 0 ? { warning: `WARNING admission gates: ${int(overflowed)} users let through without a turn (waited admissionWaitMs, or came to a full queue): those receivers took more than they declare.` } : {}),
  };
}

/** The gates in the terminal output. */
export function gateLines(r: StormReport): string[] {
  const g = gateTable(r);
  if (!g) return [];
  if (g.rows.length === 0) return ['', g.intro];
  return ['', g.intro, table(g.header, g.rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r']), ...(g.more ? [`  ${g.more}`] : []), ...(g.warning ? [g.warning] : [])];
}
