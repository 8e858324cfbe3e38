// Rebalance benchmark: a 4th agent joins a fleet of 3 that holds 20,000 real @wsring/client instances.
//  1. Time from the joiner's registration in NATS until the last moved client is open on its new node, at two
//     pacing rates, beside the floor the pacing itself sets.
//  2. Reconnect frames the clients received against the theoretical minimum (the users whose owner changed, by
//     movedKeys over every user id), and users that did not move but were touched anyway.
//  3. Memory per connection of an agent against a bare `ws` server holding the same connections.
// Everything runs in child processes on loopback: nats-server, agents (the wsring-agent CLI), and client processes
// of 5,000 clients each on their own 127.0.0.x address. Flags: --quick (4,000 users), --users=N, --rates=a,b,
// --only=rebalance|memory, --delivery=off (agents without per-user delivery).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadRing, movedKeys } from '@wsring/ring';
import { DEFAULTS, NatsMembership } from '@wsring/node-agent';
import { spawnAgent, startNatsServer } from '@wsring/node-agent/testing';
import { forkChild } from './lib/rebalance-ipc.js';
import { fmtBytes, fmtInt, fmtRatio, fmtSec, printTable } from './lib/rebalance-format.js';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const USERS = Number(arg('users') ?? (quick ? 4_000 : 20_000));
const RATES = (arg('rates') ?? '500,2000').split(',').map(Number);
const only = arg('only');
/** Per-user delivery (a NATS subscription and a replay check per connection) is on by default, as in production. */
const DELIVERY = arg('delivery') !== 'off';
/** Client processes; each holds USERS / CLIENT_PROCESSES clients from its own local address. */
const CLIENT_PROCESSES = 4;
const MEMORY_CONNECTIONS = quick ? 4_000 : 10_000;
const HOLDER_PROCESSES = 2;
const WARMUP_CONNECTIONS = 500;
const OLD_NODES = ['node-1', 'node-2', 'node-3'];
const JOINER = 'node-4';
/** After the last moved client arrives: time for any stray frame or close to show up before counting. */
const QUIET_MS = 1_500;
const DEADLINE_MS = 5 * 60_000;
const SETTLE_MS = DEFAULTS.settleMs;
const BURST = DEFAULTS.pacing.burst;

const CLIENTS_FILE = fileURLToPath(new URL('./lib/rebalance-clients.js', import.meta.url));
const SERVER_FILE = fileURLToPath(new URL('./lib/rebalance-server.js', import.meta.url));
const HOLDERS_FILE = fileURLToPath(new URL('./lib/rebalance-holders.js', import.meta.url));

// Children are killed by exit hooks (here and in the testing helpers); this makes every way out an exit.
const watchdog = setTimeout(() => {
  console.error(`rebalance bench: not done within ${DEADLINE_MS / 1000} s, stopping`);
  process.exit(1);
}, DEADLINE_MS);
watchdog.unref();
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

const users = Array.from({ length: USERS }, (_, i) => `user-${i}`);
/** Local addresses not used by an earlier phase, so no phase meets another's TIME_WAIT ports. */
let nextAddress = 2;
const takeAddresses = (n) => Array.from({ length: n }, () => `127.0.0.${nextAddress++}`);

function split(list, parts) {
  return Array.from({ length: parts }, (_, p) => list.filter((_, i) => i % parts === p));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll every agent's /topology until all serve a ring of `size` nodes with one fingerprint; return that ring. */
async function fleetRing(agents, size, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const bodies = await Promise.all(agents.map((a) => fetch(`${a.httpUrl}/topology`).then((r) => r.json())));
    const prints = new Set(bodies.map((b) => b.fingerprint));
    if (prints.size === 1 && bodies[0].ring.nodes.length === size) return loadRing(bodies[0].ring);
    if (Date.now() > until) throw new Error(`agents did not agree on a ${size}-node ring within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Largest number of arrivals within any one-second window. */
function peakPerSecond(times) {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= 1_000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/**
 * Connections the kernel dropped because a listen queue was full (TcpExt ListenOverflows), machine-wide: a
 * server process too busy to accept shows up here before it shows up anywhere else. NaN where not Linux.
 */
function listenOverflows() {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    return Number(values[names.indexOf('ListenOverflows')]);
  } catch {
    return NaN;
  }
}

/** The q-quantile of sorted numbers (nearest rank). */
const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN);

async function runRebalance(rate) {
  const nats = await startNatsServer();
  const agents = [];
  const clients = [];
  let membership;
  try {
    const flags = { nats: nats.url, rate, capacity: USERS, logLevel: 'info', noDelivery: !DELIVERY };
    agents.push(...(await Promise.all(OLD_NODES.map((id) => spawnAgent({ id, ...flags })))));
    const ring3 = await fleetRing(agents, OLD_NODES.length);

    // Every client connects through the real SDK: /topology, owner by the ring, a direct socket.
    const shares = split(users, CLIENT_PROCESSES);
    const addresses = takeAddresses(CLIENT_PROCESSES);
    const connectStarted = Date.now();
    for (let i = 0; i < CLIENT_PROCESSES; i++) {
      const c = forkChild(CLIENTS_FILE, [], { name: `clients-${i}` });
      clients.push(c);
      c.send({ type: 'start', users: shares[i], bootstrap: agents.map((a) => a.httpUrl), localAddress: addresses[i] });
    }
    const connected = await Promise.all(clients.map((c) => c.next('connected', 120_000)));
    const connectMs = Date.now() - connectStarted;
    // On a loaded machine some connects outlast the client's timeout and fail over to a stand-in; those start
    // afresh, so the join begins from every user on its owner.
    let misplaced = connected.map((m) => m.nodes.filter(([user, node]) => ring3.owner(user) !== node).map(([user]) => user));
    for (let round = 0; round < 3 && misplaced.some((m) => m.length); round++) {
      console.log(`  ${misplaced.flat().length} clients failed over to a stand-in while connecting; reconnecting them`);
      clients.forEach((c, i) => c.send({ type: 'reseat', users: misplaced[i] }));
      const reseated = await Promise.all(clients.map((c) => c.next('reseated', 120_000)));
      misplaced = reseated.map((m) => m.nodes.filter(([user, node]) => ring3.owner(user) !== node).map(([user]) => user));
    }
    if (misplaced.flat().length) throw new Error(`${misplaced.flat().length} clients are not on their owner before the join`);

    // The minimum: users whose owner changes, brute force over every user id. Node metadata does not affect
    // placement, so the joiner's ring is known before it starts; the fleet's ring is checked against it below.
    const ring4 = ring3.withNodes([{ id: JOINER }]);
    const moved = movedKeys(ring3, ring4, users);
    const movedTo = new Map(moved.map((m) => [m.key, m.to]));
    for (let i = 0; i < CLIENT_PROCESSES; i++) {
      clients[i].send({ type: 'watch', expected: shares[i].filter((u) => movedTo.has(u)) });
    }
    await Promise.all(clients.map((c) => c.next('watching')));
    for (const c of clients) c.send({ type: 'mark' });
    await Promise.all(clients.map((c) => c.next('marked')));

    // The join counts from the joiner's record appearing in the membership bucket, as every agent sees it.
    membership = await NatsMembership.connect({ servers: nats.url });
    const overflowsBefore = listenOverflows();
    let joinedAt;
    let registered;
    const seen = new Promise((resolve) => (registered = resolve));
    await membership.watch((e) => {
      if (e.type === 'put' && e.record.id === JOINER && joinedAt === undefined) {
        joinedAt = Date.now();
        registered();
      }
    });
    agents.push(await spawnAgent({ id: JOINER, ...flags }));
    await seen;
    const arrivals = await Promise.all(clients.map((c) => c.next('arrived', 60_000))).catch(async (err) => {
      for (const c of clients) c.send({ type: 'report' });
      const reports = await Promise.all(clients.map((c) => c.next('report')));
      const waiting = reports.flatMap((r) => r.waitingFor);
      const activity = new Map(reports.flatMap((r) => r.activity));
      const examples = waiting.slice(0, 3).map((user) => [user, activity.get(user)]);
      throw new Error(`${err.message}; ${waiting.length} moved users not open again, for example ${JSON.stringify(examples)}`);
    });
    const lastReopen = Math.max(...arrivals.map((a) => a.at));

    const ring4Fleet = await fleetRing(agents, OLD_NODES.length + 1);
    if (ring4Fleet.fingerprint !== ring4.fingerprint) throw new Error('the fleet settled on another ring than predicted');
    const isThisChange = (l) => l.fingerprint === ring4.fingerprint;
    const planned = await Promise.all(agents.slice(0, OLD_NODES.length).map((a) => a.waitForLog((l) => l.event === 'rebalance' && isThisChange(l))));
    const sent = await Promise.all(
      agents.slice(0, OLD_NODES.length).map((a, i) =>
        planned[i].moved > 0 ? a.waitForLog((l) => l.event === 'rebalance-sent' && l.epoch === planned[i].epoch) : undefined,
      ),
    );
    await sleep(QUIET_MS);
    for (const c of clients) c.send({ type: 'report' });
    const reports = await Promise.all(clients.map((c) => c.next('report')));

    const activity = new Map(reports.flatMap((r) => r.activity));
    const finalNode = new Map(reports.flatMap((r) => r.nodes));
    const states = {};
    for (const r of reports) for (const [s, n] of Object.entries(r.states)) states[s] = (states[s] ?? 0) + n;
    let frames = 0;
    let redirects = 0;
    let repeated = 0;
    let connects = 0;
    let touchedUnmoved = 0;
    for (const [user, a] of activity) {
      frames += a.reconnectFrames;
      redirects += a.redirectFrames;
      connects += a.connects.length;
      if (a.reconnectFrames > 1) repeated++;
      if (!movedTo.has(user)) touchedUnmoved++;
    }
    const movedWithFrame = moved.filter((m) => (activity.get(m.key)?.reconnectFrames ?? 0) > 0).length;
    const landed = moved.filter((m) => finalNode.get(m.key) === m.to).length;
    // Per moved user: when it opened on its new node, and how long after its reconnect frame.
    // The hop splits into the client deciding to go (frame -> new socket; a frame naming a node the client's
    // topology lacks costs a /topology fetch first), the WebSocket handshake, and admission (-> welcome).
    const arrivalTimes = [];
    const hopMs = [];
    const decideMs = [];
    const handshakeMs = [];
    const admitMs = [];
    for (const m of moved) {
      const a = activity.get(m.key);
      const at = a?.opens.find((o) => o.node === m.to)?.at;
      if (at === undefined) continue;
      arrivalTimes.push(at);
      if (a.frameAt === undefined) continue;
      hopMs.push(at - a.frameAt);
      const upgraded = a.upgrades.filter((t) => t <= at).at(-1);
      const created = a.connects.filter((t) => t <= (upgraded ?? at)).at(-1);
      if (upgraded === undefined || created === undefined) continue;
      decideMs.push(created - a.frameAt);
      handshakeMs.push(upgraded - created);
      admitMs.push(at - upgraded);
    }
    const spread = (xs) => {
      xs.sort((x, y) => x - y);
      return { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99), max: xs.at(-1) ?? NaN };
    };
    const standIns = moved.filter((m) => activity.get(m.key)?.opens.some((o) => o.node !== m.to && o.standIn)).length;
    const perAgentMoved = planned.map((l) => l.moved);
    const floorMs = SETTLE_MS + (Math.max(0, Math.max(...perAgentMoved) - BURST) / rate) * 1000;
    return {
      rate,
      connectMs,
      moved: moved.length,
      perAgentMoved,
      frames,
      framesSent: sent.reduce((s, l) => s + (l?.sent ?? 0), 0),
      movedWithFrame,
      repeated,
      redirects,
      connects,
      landed,
      touchedUnmoved,
      open: states.open ?? 0,
      settleMs: Math.min(...planned.map((l) => l.time)) - joinedAt,
      lastSentMs: Math.max(...sent.map((l) => l?.time ?? 0)) - joinedAt,
      totalMs: Math.max(...arrivalTimes) - joinedAt,
      reopenMs: lastReopen - joinedAt,
      standIns,
      listenOverflows: listenOverflows() - overflowsBefore,
      floorMs,
      peakArrivals: peakPerSecond(arrivalTimes),
      hop: spread(hopMs),
      decide: spread(decideMs),
      handshake: spread(handshakeMs),
      admit: spread(admitMs),
      load: os.loadavg()[0],
    };
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await Promise.all(agents.map((a) => a.kill()));
    await membership?.close().catch(() => {});
    await nats.stop();
  }
}

/** Open `count` connections to `url` from HOLDER_PROCESSES processes; resolves with the time it took and a stop function. */
async function holdConnections(url, prefix, count, awaitFrame) {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const parts = split(names, HOLDER_PROCESSES);
  const addresses = takeAddresses(HOLDER_PROCESSES);
  const holders = parts.map((_, i) => forkChild(HOLDERS_FILE, [], { name: `holders-${prefix}-${i}` }));
  holders.forEach((h, i) => h.send({ type: 'hold', url, users: parts[i], localAddress: addresses[i], awaitFrame }));
  const held = await Promise.all(holders.map((h) => h.next('holding', 120_000)));
  const open = held.reduce((s, m) => s + m.open, 0);
  if (open !== count) throw new Error(`${prefix}: ${open} of ${count} connections open`);
  return { ms: Math.max(...held.map((m) => m.ms)), stop: () => Promise.all(holders.map((h) => h.stop())) };
}

async function measureMemory(kind, natsUrl) {
  const server = forkChild(SERVER_FILE, [kind, natsUrl, String(MEMORY_CONNECTIONS + WARMUP_CONNECTIONS)], { execArgv: ['--expose-gc'], name: `${kind} server` });
  const memory = async () => {
    server.send({ type: 'memory' });
    return server.next('memory');
  };
  try {
    const { url } = await server.next('listening', 30_000);
    // A round of connections before the baseline, so code compiled and pools grown on first use are not
    // counted per connection.
    const welcomed = kind !== 'bare';
    const warmup = await holdConnections(url, `warm-${kind}`, WARMUP_CONNECTIONS, welcomed);
    await warmup.stop();
    let base = await memory();
    for (let i = 0; base.connections > 0 && i < 50; i++) base = (await sleep(100), await memory());
    const held = await holdConnections(url, `mem-${kind}`, MEMORY_CONNECTIONS, welcomed);
    await sleep(1_000); // per-connection work after the welcome (delivery's replay check) finishes
    const loaded = await memory();
    await held.stop();
    if (loaded.connections !== MEMORY_CONNECTIONS) throw new Error(`${kind} holds ${loaded.connections} connections, expected ${MEMORY_CONNECTIONS}`);
    const per = (field) => (loaded.usage[field] - base.usage[field]) / MEMORY_CONNECTIONS;
    return { kind, acceptPerSec: (MEMORY_CONNECTIONS / held.ms) * 1000, rss: per('rss'), heap: per('heapUsed'), external: per('external'), baseRss: base.usage.rss, baseHeap: base.usage.heapUsed };
  } finally {
    await server.stop();
  }
}

const cpu = os.cpus();
console.log(`wsring rebalance benchmark: Node ${process.version}, ${process.arch}, ${cpu.length} x ${cpu[0]?.model.trim()}; load average ${os.loadavg()[0].toFixed(1)} at start`);
console.log('Everything runs on loopback in child processes sharing these cores: the figures include the machine\'s load.');

if (only !== 'memory') {
  const results = [];
  for (const rate of RATES) {
    const r = await runRebalance(rate);
    results.push(r);
    console.log(
      `  rate ${rate}/s per agent: ${fmtInt(USERS)} SDK clients connected in ${fmtSec(r.connectMs)}; join -> last moved client open ${fmtSec(r.totalMs)}; load average ${r.load.toFixed(1)}`,
    );
  }
  printTable(
    `Reconnects: ${JOINER} joins ${OLD_NODES.length} agents holding ${fmtInt(USERS)} clients, delivery ${DELIVERY ? 'on' : 'off'} (minimum = users whose owner changed, by movedKeys)`,
    ['pacing per agent', 'minimum', 'frames sent', 'frames received', 'vs minimum', 'moved users reached', 'users with >1 frame', 'redirects', 'sockets opened', 'unmoved users touched', 'landed on new owner', 'on a stand-in instead'],
    results.map((r) => [
      `${fmtInt(r.rate)}/s`,
      fmtInt(r.moved),
      fmtInt(r.framesSent),
      fmtInt(r.frames),
      fmtRatio(r.frames / r.moved),
      `${fmtInt(r.movedWithFrame)} / ${fmtInt(r.moved)}`,
      fmtInt(r.repeated),
      fmtInt(r.redirects),
      fmtInt(r.connects),
      fmtInt(r.touchedUnmoved),
      `${fmtInt(r.landed)} / ${fmtInt(r.moved)}`,
      fmtInt(r.standIns),
    ]),
  );
  printTable(
    `Time from ${JOINER}'s registration (settle window ${SETTLE_MS} ms, burst ${BURST}, jitter ${DEFAULTS.pacing.jitterMs} ms; floor = settle + (largest per-agent move - burst) / rate)`,
    ['pacing per agent', 'moved per agent', 'to plan (settle)', 'to last frame sent', 'to last moved client open on new node', 'pacing floor', 'vs floor', `peak arrivals/s at ${JOINER}`, 'vs 3 x rate', 'listen overflows'],
    results.map((r) => [
      `${fmtInt(r.rate)}/s`,
      r.perAgentMoved.map(fmtInt).join(' / '),
      fmtSec(r.settleMs),
      fmtSec(r.lastSentMs),
      fmtSec(r.totalMs),
      fmtSec(r.floorMs),
      fmtRatio(r.totalMs / r.floorMs),
      fmtInt(r.peakArrivals),
      fmtRatio(r.peakArrivals / (r.rate * OLD_NODES.length)),
      Number.isNaN(r.listenOverflows) ? '-' : fmtInt(r.listenOverflows),
    ]),
  );
  const ms = (d) => `${fmtInt(d.p50)} / ${fmtInt(d.p99)} / ${fmtInt(d.max)} ms`;
  printTable(
    `One moved client's hop, from its reconnect frame (p50 / p99 / max over the moved clients that reached ${JOINER})`,
    ['pacing per agent', 'frame to open on new node', 'frame to new socket', 'WebSocket handshake', 'handshake to welcome'],
    results.map((r) => [`${fmtInt(r.rate)}/s`, ms(r.hop), ms(r.decide), ms(r.handshake), ms(r.admit)]),
  );
  const bad = results.filter((r) => r.touchedUnmoved > 0 || r.landed !== r.moved || r.open !== USERS);
  if (bad.length) console.log(`\nWARNING: ${bad.map((r) => `rate ${r.rate}: ${r.touchedUnmoved} unmoved users touched, ${r.landed}/${r.moved} landed, ${r.open}/${USERS} open`).join('; ')}`);
}

if (only !== 'rebalance') {
  const nats = await startNatsServer();
  const measured = [];
  try {
    for (const kind of ['agent', 'agent-no-delivery', 'bare']) measured.push(await measureMemory(kind, nats.url));
  } finally {
    await nats.stop();
  }
  const bare = measured.at(-1);
  const labels = {
    agent: '@wsring/node-agent (createAgent: NATS membership, delivery on)',
    'agent-no-delivery': '@wsring/node-agent (delivery: false)',
    bare: 'bare ws WebSocketServer',
  };
  const row = (m) => [
    labels[m.kind],
    fmtBytes(m.baseRss),
    fmtBytes(m.rss),
    fmtRatio(m.rss / bare.rss),
    fmtBytes(m.heap),
    fmtRatio(m.heap / bare.heap),
    fmtBytes(m.external),
    fmtInt(m.acceptPerSec),
    fmtRatio(m.acceptPerSec / bare.acceptPerSec),
  ];
  printTable(
    `Memory per connection, ${fmtInt(MEMORY_CONNECTIONS)} idle connections, after full GC (delta from the same process with none, after a warm-up round)`,
    ['server', 'baseline RSS', 'RSS / conn', 'vs bare ws', 'heap used / conn', 'vs bare ws', 'external / conn', 'connects/s while filling', 'vs bare ws'],
    measured.map(row),
  );
}
clearTimeout(watchdog);
