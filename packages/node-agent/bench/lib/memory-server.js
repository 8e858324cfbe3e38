// A server process whose memory a benchmark measures (bench/memory.js, bench/sessions.js and the rebalance benchmark's
// comparison): a wsring agent (createAgent, as the CLI starts it) with delivery (`agent`), without
// (`agent-no-delivery`), or a bare `ws` WebSocketServer (`bare`). Arguments: kind, NATS URL, capacity, and optionally
// a bucket of its own (several run side by side, each owning all of its users; it is also the node id; default
// `wsring-<kind>`, node `mem-1`), and `--quiet` for no agent logs. Run with --expose-gc; answers `memory` over IPC
// with process.memoryUsage() taken after full collections, so every kind is measured the same way.
import { WebSocketServer } from 'ws';
import { createAgent } from '@wsring/node-agent';

const args = process.argv.slice(2);
const [kind, natsUrl, capacity, bucket] = args.filter((a) => !a.startsWith('--'));
const quiet = args.includes('--quiet');

async function startAgent(delivery) {
  const agent = await createAgent({
    ...(delivery ? {} : { delivery: false }),
    id: bucket ?? 'mem-1',
    // A bucket of its own: no record of an earlier server in the same NATS.
    nats: { servers: natsUrl, bucket: bucket ?? `wsring-${kind}` },
    host: '127.0.0.1',
    port: 0,
    capacity: Number(capacity),
    ...(quiet ? { logger: { info() {}, warn() {}, error() {}, debug() {} } } : {}),
  });
  return { url: agent.url, connections: () => agent.connections };
}

async function startBare() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 65_536 });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  return { url: `ws://127.0.0.1:${wss.address().port}/ws`, connections: () => wss.clients.size };
}

async function settledMemory() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage();
}

const server = kind === 'bare' ? await startBare() : await startAgent(kind === 'agent');
process.send({ type: 'listening', url: server.url });
process.on('message', async (m) => {
  if (m.type === 'memory') process.send({ type: 'memory', usage: await settledMemory(), connections: server.connections() });
  if (m.type === 'snapshot') {
    await settledMemory();
    (await import('node:v8')).writeHeapSnapshot(m.file);
    process.send({ type: 'snapshot' });
  }
  if (m.type === 'stop') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
