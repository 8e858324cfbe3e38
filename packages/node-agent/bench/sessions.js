// Sessions benchmark: what a user's further sockets (tabs, devices) cost.
//  1. Memory per session of an agent (per-user delivery on) holding 10,000 sessions over 2,500 users (4 each),
//     against the same agent holding 10,000 single-session users and a bare `ws` server holding 10,000 sockets.
//     Each server in its own process, measured after full collections; client sockets from two holder processes.
//  2. Planner time for a join on a node holding 1,000,000 sessions over 250,000 users (pure, in-process: the real
//     ConnectionRegistry, key index and planMoves), against the same node holding 1,000,000 single-session users,
//     and the pacer's enqueue of the moved users.
// Flags: --quick (2,000 sessions, 200k sessions in the planner), --only=memory|planner.
import { fileURLToPath } from 'node:url';
import { createKeyIndex, createRing } from '@wsring/ring';
import { startNatsServer } from '@wsring/node-agent/testing';
import { ClientConnection, ConnectionRegistry, Pacer, planMoves } from '@wsring/node-agent/internal';
import { forkChild } from './lib/rebalance-ipc.js';
import { processRss } from './lib/rebalance-fleet.js';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const only = arg('only');
const SESSIONS = quick ? 2_000 : 10_000;
const PER_USER = 4;
const PLAN_SESSIONS = quick ? 200_000 : 1_000_000;
const NODES = 8;

const SERVER_FILE = fileURLToPath(new URL('./lib/memory-server.js', import.meta.url));
const HOLDERS_FILE = fileURLToPath(new URL('./lib/rebalance-holders.js', import.meta.url));
const HOLDERS = 2;
const WARMUP = 500;
let nextAddress = 40;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** Open one socket per name (names may repeat: sessions of one user), from HOLDERS processes. */
async function hold(url, names, awaitFrame) {
  const holders = Array.from({ length: HOLDERS }, (_, i) => forkChild(HOLDERS_FILE, [], { name: `sessions-holders-${i}` }));
  const stop = () => Promise.all(holders.map((h) => h.stop()));
  holders.forEach((h, p) => h.send({ type: 'hold', url, users: names.filter((_, i) => i % HOLDERS === p), localAddress: `127.0.0.${nextAddress++}`, awaitFrame }));
  const held = await Promise.all(holders.map((h) => h.next('holding', 120_000)));
  const open = held.reduce((s, m) => s + m.open, 0);
  if (open !== names.length) {
    await stop();
    throw new Error(`${open} of ${names.length} sockets open`);
  }
  return stop;
}

/** Memory per socket of one server kind holding `names` (after a warm-up round and full collections). */
async function perSocket(kind, nats, names, label) {
  const server = forkChild(SERVER_FILE, [kind, nats.url, String(names.length + WARMUP)], { execArgv: ['--expose-gc'], name: `${label} server` });
  const memory = async () => (server.send({ type: 'memory' }), server.next('memory'));
  try {
    const { url } = await server.next('listening', 30_000);
    const welcomed = kind !== 'bare';
    const warm = await hold(url, Array.from({ length: WARMUP }, (_, i) => `warm-${label}-${i}`), welcomed);
    await warm();
    let base = await memory();
    for (let i = 0; base.connections > 0 && i < 50; i++) base = (await sleep(100), await memory());
    const natsBase = processRss(nats.pid);
    const stop = await hold(url, names, welcomed);
    await sleep(1_000);
    const loaded = await memory();
    const natsLoaded = processRss(nats.pid);
    await stop();
    if (loaded.connections !== names.length) throw new Error(`${label}: ${loaded.connections} sockets held, expected ${names.length}`);
    const per = (field) => (loaded.usage[field] - base.usage[field]) / names.length;
    return { label, rss: per('rss'), heap: per('heapUsed'), natsRss: (natsLoaded - natsBase) / names.length };
  } finally {
    await server.stop();
  }
}

async function memoryPhase() {
  console.log(`\nMemory per session: ${fmt(SESSIONS)} sockets per server (agents with per-user delivery; bare: a plain ws server)`);
  const nats = await startNatsServer({ jetstream: true });
  try {
    const users = SESSIONS / PER_USER;
    const rows = [
      await perSocket('bare', nats, Array.from({ length: SESSIONS }, (_, i) => `b-${i}`), 'bare ws'),
      await perSocket('agent', nats, Array.from({ length: SESSIONS }, (_, i) => `one-${i}`), `agent, ${fmt(SESSIONS)} users x 1`),
      await perSocket('agent', nats, Array.from({ length: SESSIONS }, (_, i) => `tabs-${Math.floor(i / PER_USER)}`), `agent, ${fmt(users)} users x ${PER_USER}`),
    ];
    const bare = rows[0];
    console.log('  server                        RSS/socket   heap/socket   vs bare (RSS)   nats-server RSS/socket');
    for (const r of rows) {
      console.log(`  ${r.label.padEnd(28)}  ${fmt(r.rss / 1024, 1).padStart(7)} KiB  ${fmt(r.heap / 1024, 1).padStart(8)} KiB  ${(r.rss / bare.rss).toFixed(2).padStart(9)}x      ${fmt(r.natsRss / 1024, 2).padStart(8)} KiB`);
    }
  } finally {
    await nats.stop();
  }
}

/** A registry on node-0 of `users` users it owns, `perUser` sessions each. */
async function registryOf(ring, users, perUser) {
  const index = await createKeyIndex(undefined, { seed: 0 });
  const registry = new ConnectionRegistry(index);
  const socket = { readyState: 1, OPEN: 1, send() {} };
  let made = 0;
  const started = performance.now();
  for (let i = 0; made < users; i++) {
    const user = `user-${i}`;
    if (ring.owner(user) !== 'node-0') continue;
    made++;
    for (let s = 0; s < perUser; s++) registry.add(new ClientConnection(user, socket, false, 0, `${i}-${s}`), [], 16);
  }
  return { registry, buildMs: performance.now() - started };
}

async function plannerPhase() {
  const nodes = Array.from({ length: NODES }, (_, i) => ({ id: `node-${i}` }));
  const prev = await createRing(nodes);
  const next = prev.withNodes([{ id: `node-${NODES}` }]);
  console.log(`\nPlanner: node-0 of ${NODES} when node-${NODES} joins (ring placement, real ConnectionRegistry, key index, planMoves, Pacer.enqueue)`);
  console.log('  held                               plan (median of 5)   moved users   enqueue moved   setup (ring lookups)');
  const rows = [];
  for (const [users, perUser] of [
    [PLAN_SESSIONS / 4, 4],
    [PLAN_SESSIONS, 1],
  ]) {
    const { registry, buildMs } = await registryOf(prev, users, perUser);
    const times = [];
    let plan;
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      plan = planMoves({ self: 'node-0', prev, next, index: registry.index, standIns: registry.standIns }, 9);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const clock = { now: () => 0, setTimeout: () => 0, clearTimeout() {} };
    const pacer = new Pacer({ ratePerSec: 1_000, burst: 20, jitterMs: 250, clock, random: () => 0.5 }, () => {}, () => 1_000);
    const t0 = performance.now();
    for (const m of plan.moves) pacer.enqueue(m.userId, m.to);
    const enqueueMs = performance.now() - t0;
    pacer.stop();
    rows.push({ label: `${fmt(registry.size)} sessions / ${fmt(registry.users)} users`, planMs: times[2], moved: plan.moves.length, enqueueMs, buildMs });
  }
  for (const r of rows) {
    console.log(`  ${r.label.padEnd(34)} ${fmt(r.planMs, 1).padStart(9)} ms          ${fmt(r.moved).padStart(9)}   ${fmt(r.enqueueMs, 1).padStart(9)} ms   ${fmt(r.buildMs, 0).padStart(9)} ms`);
  }
  console.log(`  ratio (sessions of 4 / single-session users, same socket count): plan ${(rows[0].planMs / rows[1].planMs).toFixed(2)}x, moved users ${(rows[0].moved / rows[1].moved).toFixed(2)}x`);
}

if (only !== 'planner') await memoryPhase();
if (only !== 'memory') await plannerPhase();
process.exit(0);
