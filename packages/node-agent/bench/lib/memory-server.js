// A server process for the memory benchmark: a wsring agent with delivery (`agent`), without (`agent-no-delivery`),
// or a bare `ws` WebSocketServer (`bare`). Its own NATS bucket, so several run side by side, each owning all of its
// users. Run with --expose-gc; answers `memory` over IPC with process.memoryUsage() after full collections.
import { WebSocketServer } from 'ws';
import { createAgent } from '@wsring/node-agent';

const [kind, natsUrl, capacity, bucket] = process.argv.slice(2);

async function startAgent(delivery) {
  const agent = await createAgent({
    ...(delivery ? {} : { delivery: false }),
    id: bucket,
    nats: { servers: natsUrl, bucket },
    host: '127.0.0.1',
    port: 0,
    capacity: Number(capacity),
    logger: { info() {}, warn() {}, error() {}, debug() {} },
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
