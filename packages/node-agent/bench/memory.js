// Memory benchmark: what an idle connection costs a wsring agent with per-user delivery, without it, and a bare
// `ws` server, measured the same way in the same run (process.memoryUsage() after full GC, with the connections
// held minus the same process with none, after a warm-up round). 10,000 connections in one server process, and
// 40,000 held at once by four server processes of each kind (one process cannot hold 40,000 here: 20,000 file
// descriptors at most). Clients are plain `ws` sockets in processes of 5,000, each from its own 127.0.0.x address.
// Also nats-server's growth (delivery keeps one subscription per connected user there).
// Flags: --quick (2,000 and 4 x 2,000); --only=<other benchmark> skips this one.
import { fileURLToPath } from 'node:url';
import { startNatsServer } from '@wsring/node-agent/testing';
import { forkChild } from './lib/rebalance-ipc.js';
import { processRss } from './lib/rebalance-fleet.js';
import { fmtBytes, fmtInt, fmtRatio, printTable } from './lib/rebalance-format.js';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const only = arg('only');
if (only !== undefined && only !== 'memory') process.exit(0);
const PER_PROCESS = quick ? 2_000 : 10_000;
const WIDE_PROCESSES = 4;
const PER_ADDRESS = 5_000;
const WARMUP = 500;
const KINDS = ['agent', 'agent-no-delivery', 'bare'];
const LABELS = { agent: 'wsring agent, delivery on', 'agent-no-delivery': 'wsring agent, delivery off', bare: 'bare ws server' };
const SERVER = fileURLToPath(new URL('./lib/memory-server.js', import.meta.url));
const HOLDERS = fileURLToPath(new URL('./lib/rebalance-holders.js', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let nextAddress = 2;
let serial = 0;

/** Hold `count` sockets to `url` from processes of at most PER_ADDRESS, each on its own address. */
async function hold(url, prefix, count, awaitFrame) {
  const parts = Math.ceil(count / PER_ADDRESS);
  const holders = Array.from({ length: parts }, (_, i) => forkChild(HOLDERS, [], { name: `holders ${prefix} ${i}` }));
  const stop = () => Promise.all(holders.map((h) => h.stop()));
  try {
    holders.forEach((h, i) => {
      const users = Array.from({ length: Math.min(PER_ADDRESS, count - i * PER_ADDRESS) }, (_, k) => `${prefix}-${i}-${k}`);
      h.send({ type: 'hold', url, users, localAddress: `127.0.0.${nextAddress++}`, awaitFrame });
    });
    const held = await Promise.all(holders.map((h) => h.next('holding', 300_000)));
    const open = held.reduce((s, m) => s + m.open, 0);
    if (open !== count) throw new Error(`${prefix}: ${open} of ${count} connections open`);
    return stop;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One server process of `kind` holding `count` idle connections: per-connection RSS and heap. */
async function measureOne(kind, nats, count) {
  const server = forkChild(SERVER, [kind, nats.url, String(count + WARMUP), `mem-${kind}-${++serial}`, '--quiet'], { execArgv: ['--expose-gc'], name: `${kind} server` });
  const memory = async () => {
    server.send({ type: 'memory' });
    return server.next('memory', 120_000);
  };
  try {
    const { url } = await server.next('listening', 60_000);
    const welcomed = kind !== 'bare';
    await (await hold(url, `warm-${serial}`, WARMUP, welcomed))();
    let base = await memory();
    for (let i = 0; base.connections > 0 && i < 50; i++) base = (await sleep(100), await memory());
    const stop = await hold(url, `mem-${serial}`, count, welcomed);
    await sleep(2_000); // delivery's first sync of each connection finishes
    const loaded = await memory();
    await stop();
    if (loaded.connections !== count) throw new Error(`${kind} holds ${loaded.connections}, expected ${count}`);
    return { rss: loaded.usage.rss - base.usage.rss, heap: loaded.usage.heapUsed - base.usage.heapUsed, external: loaded.usage.external - base.usage.external };
  } finally {
    await server.stop();
  }
}

/** `processes` servers of `kind` at once, `count` each: totals per connection, and nats-server's growth. */
async function measure(kind, nats, processes, count) {
  const natsBase = processRss(nats.pid);
  let natsPeak = natsBase;
  const timer = setInterval(() => (natsPeak = Math.max(natsPeak, processRss(nats.pid))), 500);
  try {
    const parts = await Promise.all(Array.from({ length: processes }, () => measureOne(kind, nats, count)));
    const total = processes * count;
    const sum = (field) => parts.reduce((s, p) => s + p[field], 0) / total;
    return { kind, total, rss: sum('rss'), heap: sum('heap'), external: sum('external'), nats: (natsPeak - natsBase) / total };
  } finally {
    clearInterval(timer);
  }
}

const nats = await startNatsServer();
try {
  for (const [processes, count] of [
    [1, PER_PROCESS],
    [WIDE_PROCESSES, PER_PROCESS],
  ]) {
    const rows = [];
    for (const kind of KINDS) rows.push(await measure(kind, nats, processes, count));
    const bare = rows.at(-1);
    printTable(
      `Memory per idle connection, ${fmtInt(processes * count)} connections held (${processes} server process${processes > 1 ? 'es' : ''} of ${fmtInt(count)}), after full GC`,
      ['server', 'RSS / conn', 'vs bare ws', 'heap used / conn', 'vs bare ws', 'external / conn', 'nats-server RSS / conn (peak)'],
      rows.map((m) => [LABELS[m.kind], fmtBytes(m.rss), fmtRatio(m.rss / bare.rss), fmtBytes(m.heap), fmtRatio(m.heap / bare.heap), fmtBytes(m.external), fmtBytes(m.nats)]),
    );
  }
} finally {
  await nats.stop();
}
