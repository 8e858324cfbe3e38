// A server process for the memory comparison of the rebalance benchmark: a wsring agent (createAgent, as the CLI
// starts it; kind `agent`, or `agent-no-delivery` without per-user delivery) or a bare `ws` WebSocketServer (`bare`). Run with --expose-gc; answers `memory` over IPC with
// process.memoryUsage() taken after full collections, so both kinds are measured the same way.
import { WebSocketServer } from 'ws';
import { createAgent } from '@wsring/node-agent';

const [kind, natsUrl, capacity] = process.argv.slice(2);

async function startAgent(delivery) {
  const agent = await createAgent({
    ...(delivery ? {} : { delivery: false }),
    id: 'mem-1',
    // A bucket of its own per kind: no record of an earlier server in the same NATS.
    nats: { servers: natsUrl, bucket: `wsring-${kind}` },
    host: '127.0.0.1',
    port: 0,
    capacity: Number(capacity),
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
  if (m.type === 'stop') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
