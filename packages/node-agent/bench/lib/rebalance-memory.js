// The memory comparison of the rebalance benchmark: the same idle connections held by a wsring agent (with and
// without per-user delivery) and by a bare `ws` server, each measured in its own process after full collections.
import { fileURLToPath } from 'node:url';
import { forkChild } from './rebalance-ipc.js';
import { processRss } from './rebalance-fleet.js';

const SERVER_FILE = fileURLToPath(new URL('./memory-server.js', import.meta.url));
const HOLDERS_FILE = fileURLToPath(new URL('./rebalance-holders.js', import.meta.url));
const HOLDER_PROCESSES = 2;
const WARMUP_CONNECTIONS = 500;
export const SERVER_KINDS = ['agent', 'agent-no-delivery', 'bare'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const split = (list, parts) => Array.from({ length: parts }, (_, p) => list.filter((_, i) => i % parts === p));

/** Open `count` connections to `url` from HOLDER_PROCESSES processes; resolves with the time it took and a stop function. */
async function holdConnections(url, prefix, count, awaitFrame, takeAddresses) {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const parts = split(names, HOLDER_PROCESSES);
  const addresses = takeAddresses(HOLDER_PROCESSES);
  const holders = parts.map((_, i) => forkChild(HOLDERS_FILE, [], { name: `holders-${prefix}-${i}` }));
  const stop = () => Promise.all(holders.map((h) => h.stop()));
  try {
    holders.forEach((h, i) => h.send({ type: 'hold', url, users: parts[i], localAddress: addresses[i], awaitFrame }));
    const held = await Promise.all(holders.map((h) => h.next('holding', 120_000)));
    const open = held.reduce((s, m) => s + m.open, 0);
    if (open !== count) throw new Error(`${prefix}: ${open} of ${count} connections open`);
    return { ms: Math.max(...held.map((m) => m.ms)), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Per-connection memory of one kind of server: process.memoryUsage() with `connections` open minus the same with
 * none, both after full GC, and after a warm-up round so code compiled and pools grown on first use are not
 * counted per connection. Also nats-server's growth meanwhile, and the rate at which the server took the connections.
 */
export async function measureMemory(kind, nats, connections, takeAddresses) {
  const server = forkChild(SERVER_FILE, [kind, nats.url, String(connections + WARMUP_CONNECTIONS)], { execArgv: ['--expose-gc'], name: `${kind} server` });
  const memory = async () => {
    server.send({ type: 'memory' });
    return server.next('memory');
  };
  try {
    const { url } = await server.next('listening', 30_000);
    const welcomed = kind !== 'bare';
    const warmup = await holdConnections(url, `warm-${kind}`, WARMUP_CONNECTIONS, welcomed, takeAddresses);
    await warmup.stop();
    let base = await memory();
    for (let i = 0; base.connections > 0 && i < 50; i++) base = (await sleep(100), await memory());
    const natsBase = processRss(nats.pid);
    const held = await holdConnections(url, `mem-${kind}`, connections, welcomed, takeAddresses);
    await sleep(1_000); // per-connection work after the welcome (delivery's replay check) finishes
    const loaded = await memory();
    const natsLoaded = processRss(nats.pid);
    await held.stop();
    if (loaded.connections !== connections) throw new Error(`${kind} holds ${loaded.connections} connections, expected ${connections}`);
    const per = (field) => (loaded.usage[field] - base.usage[field]) / connections;
    return {
      kind,
      connectsPerSec: (connections / held.ms) * 1000,
      rss: per('rss'),
      heap: per('heapUsed'),
      external: per('external'),
      // Delivery keeps a subscription per connected user in nats-server: its share of the cost, not in the agent's figures.
      natsRss: (natsLoaded - natsBase) / connections,
      baseRss: base.usage.rss,
    };
  } finally {
    await server.stop();
  }
}
