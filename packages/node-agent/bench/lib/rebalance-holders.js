// A process that opens and holds plain `ws` connections for the memory comparison of the rebalance benchmark:
// the same sockets against a wsring agent and against a bare `ws` server. Driven over IPC by bench/rebalance.js.
import { WebSocket } from 'ws';

const CONNECT_WINDOW = 400;
const sockets = [];

/** Open one socket per user; resolve when each is ready (after the first frame if `awaitFrame`). */
async function hold({ url, users, localAddress, awaitFrame }) {
  let waiting = 0;
  let failed = 0;
  let wake;
  const started = Date.now();
  const done = () => {
    waiting--;
    wake?.();
  };
  for (const user of users) {
    while (waiting >= CONNECT_WINDOW) await new Promise((r) => (wake = r));
    waiting++;
    const ws = new WebSocket(`${url}?user=${encodeURIComponent(user)}`, { localAddress });
    sockets.push(ws);
    let settled = false;
    const ready = () => {
      if (settled) return;
      settled = true;
      done();
    };
    ws.once(awaitFrame ? 'message' : 'open', ready);
    ws.once('close', () => {
      if (!settled) failed++;
      ready();
    });
    ws.on('error', () => {});
  }
  while (waiting > 0) await new Promise((r) => (wake = r));
  process.send({ type: 'holding', open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length, failed, ms: Date.now() - started });
}

process.on('message', (m) => {
  if (m.type === 'hold') hold(m).catch((err) => process.send({ type: 'failed', error: String(err?.stack ?? err) }));
  if (m.type === 'stop') {
    for (const s of sockets) s.terminate();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
