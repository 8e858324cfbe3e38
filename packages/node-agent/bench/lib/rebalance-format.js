// Number formats and the Markdown tables the rebalance benchmark prints.

export const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : '-');
export const fmtSec = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '-');
export const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');

export function fmtBytes(x) {
  const sign = x < 0 ? '-' : '';
  const a = Math.abs(x);
  if (a >= 1 << 20) return `${sign}${(a / (1 << 20)).toFixed(1)} MiB`;
  if (a >= 1 << 10) return `${sign}${(a / (1 << 10)).toFixed(1)} KiB`;
  return `${sign}${Math.round(a)} B`;
}

export function printTable(title, header, rows) {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => `| ${cells.map((x, c) => (c === 0 ? String(x).padEnd(widths[c]) : String(x).padStart(widths[c]))).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(header));
  console.log(`| ${widths.map((w, c) => (c === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`);
  for (const r of rows) console.log(line(r));
}

const ms = (d) => `${fmtInt(d.p50)} / ${fmtInt(d.p99)} / ${fmtInt(d.max)} ms`;
const rateLabel = (r) => `${fmtInt(r.rate)}/s`;

/** The three tables of the rebalance runs. `setup` names the fleet and the pacing defaults. */
export function printRebalance(results, setup) {
  const { users, joiner, oldNodes, delivery, sharedFetch, settleMs, burst, jitterMs } = setup;
  printTable(
    `Reconnects: ${joiner} joins ${oldNodes} agents holding ${fmtInt(users)} clients, delivery ${delivery ? 'on' : 'off'}${sharedFetch ? ', /topology fetches shared per client process' : ''} (minimum = users whose owner changed, by movedKeys)`,
    ['pacing per agent', 'minimum', 'frames sent', 'frames received', 'vs minimum', 'moved users reached', 'users with >1 frame', 'redirects', 'sockets opened', 'grace closes', '/topology requests', 'rings after the join', 'unmoved users touched', 'landed on new owner', 'on a stand-in instead', 'not open again'],
    results.map((r) => [
      rateLabel(r),
      fmtInt(r.moved),
      fmtInt(r.framesSent),
      fmtInt(r.frames),
      fmtRatio(r.frames / r.moved),
      `${fmtInt(r.reached)} / ${fmtInt(r.moved)}`,
      fmtInt(r.repeated),
      fmtInt(r.redirects),
      fmtInt(r.sockets),
      fmtInt(r.graceCloses),
      fmtInt(r.topologyRequests),
      fmtInt(r.rings),
      fmtInt(r.touchedUnmoved),
      `${fmtInt(r.landed)} / ${fmtInt(r.moved)}`,
      fmtInt(r.standIns),
      fmtInt(r.notReopened),
    ]),
  );
  printTable(
    `Time from ${joiner}'s registration (settle window ${settleMs} ms, burst ${burst}, jitter ${jitterMs} ms; floor = settle + (largest per-agent move - burst) / rate)`,
    ['pacing per agent', 'moved per agent', 'to plan (settle)', 'to last frame sent', 'to last moved client open on new node', 'pacing floor', 'vs floor', `peak arrivals/s at ${joiner}`, `vs ${oldNodes} x rate`, 'listen overflows'],
    results.map((r) => [
      rateLabel(r),
      r.perAgentMoved.map(fmtInt).join(' / '),
      fmtSec(r.settleMs),
      fmtSec(r.lastSentMs),
      fmtSec(r.totalMs),
      fmtSec(r.floorMs),
      fmtRatio(r.totalMs / r.floorMs),
      fmtInt(r.peakArrivals),
      fmtRatio(r.peakArrivals / (r.rate * oldNodes)),
      Number.isNaN(r.listenOverflows) ? '-' : fmtInt(r.listenOverflows),
    ]),
  );
  printTable(
    `One moved client's hop, from its reconnect frame (p50 / p99 / max over the moved clients that reached ${joiner})`,
    ['pacing per agent', 'frame to open on new node', 'frame to new socket', 'WebSocket handshake', 'handshake to welcome'],
    results.map((r) => [rateLabel(r), ms(r.hop), ms(r.decide), ms(r.handshake), ms(r.admit)]),
  );
}

const SERVER_LABELS = {
  agent: '@wsring/node-agent (NATS membership, delivery on)',
  'agent-no-delivery': '@wsring/node-agent (delivery: false)',
  bare: 'bare ws WebSocketServer',
};

/** The memory table; the last entry of `measured` is the bare server the others are compared with. */
export function printMemory(measured, connections) {
  const bare = measured.at(-1);
  printTable(
    `Memory per connection, ${fmtInt(connections)} idle connections, after full GC (delta from the same process with none, after a warm-up round)`,
    ['server', 'baseline RSS', 'RSS / conn', 'vs bare ws', 'heap used / conn', 'vs bare ws', 'external / conn', 'nats-server RSS / conn', 'connects/s while filling', 'vs bare ws'],
    measured.map((m) => [
      SERVER_LABELS[m.kind] ?? m.kind,
      fmtBytes(m.baseRss),
      fmtBytes(m.rss),
      fmtRatio(m.rss / bare.rss),
      fmtBytes(m.heap),
      fmtRatio(m.heap / bare.heap),
      fmtBytes(m.external),
      Number.isNaN(m.natsRss) ? '-' : fmtBytes(m.natsRss),
      fmtInt(m.connectsPerSec),
      fmtRatio(m.connectsPerSec / bare.connectsPerSec),
    ]),
  );
}
