// Turns what the movement benchmark's client processes recorded into the figures of one change. Pure.
import { peakPerSecond } from './rebalance-analysis.js';

/** The q-quantile of sorted numbers (nearest rank). */
const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN);
const inWindow = (t, from, to) => t >= from && t < to;

/**
 * The figures of one change, from the clients' records in [from, to).
 *
 * Per receiving node R:
 *  - `users`: opens at R (arrivals);
 *  - `arrivalsPeak`: most arrivals at R in any one-second window (measured at the clients' `open`);
 *  - `framesPeak`: most reconnect frames naming R in any one-second window, each at the time it lets its user go
 *    (received + its `delayMs`): the pace the senders kept, which is what the receiver budget bounds;
 *  - `senders`: nodes that sent users to R (the bound is A x (1 s + 50 ms) + senders, docs/protocol.md);
 *  - `settleMs`: from the change's first frame to R's last arrival;
 *  - `latency`: frame (plus delay) to open at R, p50 and p99: how far client-side latency can bunch arrivals;
 *    of it, `decide`: frame to the client's new socket (the client's own work), `admission`: WebSocket handshake to
 *    the node's welcome.
 * For the change: `expectedMs`, the time the receiver budgets and the senders' ceiling allow at best
 * (max over receivers of M(R)/A, and over senders of what they sent / ceiling), against `settleMs`.
 *
 * @param activity user -> { frames, frameTo, frameDelay, opens } (see rebalance-clients.js)
 * @param before   user -> the node it was open on when the change began (its sender)
 */
export function changeFigures({ name, activity, before, from, to = Infinity, accept, ceiling, minimum }) {
  const receivers = new Map();
  const sent = new Map();
  const at = (node) => {
    let r = receivers.get(node);
    if (!r) receivers.set(node, (r = { node, opens: [], frameTimes: [], senders: new Set(), latency: [], admission: [], decide: [] }));
    return r;
  };
  let frames = 0;
  let firstFrame = Infinity;
  let twice = 0;
  let reopened = 0;
  let failovers = 0;
  for (const [user, a] of activity) {
    let userFrames = 0;
    for (let i = 0; i < a.frames.length; i++) {
      if (!inWindow(a.frames[i], from, to)) continue;
      userFrames++;
      frames++;
      firstFrame = Math.min(firstFrame, a.frames[i]);
      const go = a.frames[i] + (a.frameDelay[i] ?? 0);
      const r = at(a.frameTo[i]);
      r.frameTimes.push(go);
      const sender = before.get(user);
      if (sender !== undefined) {
        r.senders.add(sender);
        sent.set(sender, (sent.get(sender) ?? 0) + 1);
      }
      const open = a.opens.find((o) => o.node === a.frameTo[i] && o.at >= a.frames[i] && inWindow(o.at, from, to));
      if (open) {
        r.latency.push(open.at - go);
        // Split at the WebSocket handshake: before it the client and the TCP accept, after it the node's admission.
        const upgraded = a.upgrades.find((u) => u >= go && u <= open.at);
        if (upgraded !== undefined) r.admission.push(open.at - upgraded);
        // And before it: from the frame to the client's new socket (the client's own work).
        const created = a.connects.find((c) => c >= go && c <= open.at);
        if (created !== undefined) r.decide.push(created - go);
      }
    }
    const opens = a.opens.filter((o) => inWindow(o.at, from, to));
    for (const o of opens) at(o.node).opens.push(o.at);
    if (userFrames > 1 || opens.length > 1) {
      twice++;
      if (opens.length > 1) reopened++;
      if (opens.some((o) => o.standIn) || a.moves.some((m) => m.reason === 'failover' && inWindow(m.at, from, to))) failovers++;
    }
  }
  const start = Number.isFinite(firstFrame) ? firstFrame : from;
  const rows = [...receivers.values()]
    .filter((r) => r.opens.length > 0 || r.frameTimes.length > 0)
    .map((r) => {
      const latency = r.latency.sort((x, y) => x - y);
      const admission = r.admission.sort((x, y) => x - y);
      const decide = r.decide.sort((x, y) => x - y);
      return {
        node: r.node,
        users: r.opens.length,
        arrivalsPeak: peakPerSecond(r.opens),
        framesPeak: peakPerSecond(r.frameTimes),
        senders: r.senders.size,
        bound: Math.floor(accept * 1.05) + r.senders.size,
        settleMs: r.opens.length ? Math.max(...r.opens) - start : 0,
        latencyP50: quantile(latency, 0.5),
        latencyP99: quantile(latency, 0.99),
        admissionP50: quantile(admission, 0.5),
        admissionP99: quantile(admission, 0.99),
        decideP50: quantile(decide, 0.5),
        decideP99: quantile(decide, 0.99),
      };
    })
    .sort((x, y) => (x.node < y.node ? -1 : 1));
  const expectedMs = 1000 * Math.max(0, ...rows.map((r) => r.users / accept), ...[...sent.values()].map((n) => n / ceiling));
  const settleMs = Math.max(0, ...rows.map((r) => r.settleMs));
  const peak = rows.reduce((best, r) => (r.arrivalsPeak > (best?.arrivalsPeak ?? -1) ? r : best), undefined);
  const framesPeak = rows.reduce((best, r) => (r.framesPeak > (best?.framesPeak ?? -1) ? r : best), undefined);
  return { name, receivers: rows, frames, minimum, twice, reopened, failovers, expectedMs, settleMs, firstFrame: start, peak, framesPeak, startedAt: from };
}
