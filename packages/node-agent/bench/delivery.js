// Delivery benchmark: publish-to-delivery latency and throughput of wsring's per-user delivery, against plain NATS.
//   wsring: createPublisher (JetStream, per-user optimistic concurrency) -> stream republish -> the agent holding
//           the user (wsring-agent in a child process) -> WebSocket -> @wsring/client (in a child process).
//   floor:  core NATS publish -> one core subscription per user, in a child process, on the same nats-server.
//   JetStream: an acknowledged JetStream publish -> stream republish -> the same subscriptions (what wsring builds
//           on, without per-user concurrency control, replay or WebSocket hop).
// 1. Latency, p50/p99, at a fixed offered load in steady state, and during a rebalance (a 3rd agent joins and a
//    third of the users reconnect, replaying on arrival: from the joiner listening until a second after the last
//    reconnect frame), split by who the user is: the users the join does not move ("stayed") and those it moves
//    ("moved", every message of the window, before, during or after the user's own move). 2. Messages per second
//    per agent at saturation.
// Flags: --quick (fewer users, shorter phases), --delivery-users=N; --only=<other benchmark> skips this one;
// --signed: the fleet signs its topologies (--topology-key-file) and clients are given its key (the production
// checklist, docs/security.md), so a moving client follows its reconnect frame without fetching /topology;
// --probe: where the time of the rebalance window goes (bench/lib/loop-probe.js in every Node process of the wsring
// run, bench/lib/delivery-observer.js for nats-server's hand-out and CPU): a timeline of the window, printed last.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import * as hdr from 'hdr-histogram-js';
import { createPublisher, generateTopologyKeyPair } from '@wsring/node-agent';
import { spawnAgent, startNatsServer } from '@wsring/node-agent/testing';
import { movedKeys } from '@wsring/ring';
import { forkChild } from './lib/rebalance-ipc.js';
import { fleetRing } from './lib/rebalance-fleet.js';
import { fmtInt, fmtRatio, printTable } from './lib/rebalance-format.js';
import { printTimeline } from './lib/delivery-timeline.js';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const USERS = Number(arg('delivery-users') ?? (quick ? 300 : 1_000));
const only = arg('only');
const probe = process.argv.includes('--probe');
const signed = process.argv.includes('--signed');
if (only !== undefined && only !== 'delivery') process.exit(0);
/** Offered load for the latency phases: every user gets a message every INTERVAL_MS. */
const INTERVAL_MS = 500;
const PHASE_MS = quick ? 3_000 : 6_000;
const BLAST_MS = quick ? 3_000 : 5_000;
// Fast membership so the bench is short; pacing at the agent's defaults (DEFAULTS.pacing: 1,000 reconnects/s per agent, burst 250, jitter 250 ms).
const AGENT_FLAGS = { heartbeatMs: 200, livenessMs: 1_000, settleMs: 300 };

const RECEIVERS = fileURLToPath(new URL('./lib/delivery-receivers.js', import.meta.url));
const OBSERVER = fileURLToPath(new URL('./lib/delivery-observer.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./lib/loop-probe.js', import.meta.url));
/**
 * Processes holding the wsring clients (the floor's subscriptions fit in one): the users that stay through the
 * rebalance in two, the ones that will move in a third. A browser tab holds one client; sharing one event loop
 * would charge a user that stays with the reconnect and replay work of others that move. The users are counted by
 * process: the movers' process stalls for hundreds of milliseconds while its ~350 clients move at once, and counting
 * a mover as "stayed" until its `moved` event (as this bench once did) put that stall into the stayers' p99.
 */
const CLIENT_PROCESSES = 3;
const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const users = Array.from({ length: USERS }, (_, i) => `bench-${i}`);

/** Publish acknowledgement latency by phase, in the publishing process (where a publish spends its time). */
const ackHistograms = new Map();
let ackPhase = 'warmup';
const ackHistogram = (name) => {
  if (!ackHistograms.has(name)) ackHistograms.set(name, hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 }));
  return ackHistograms.get(name);
};

/** One loop per user sending {t} every `intervalMs` (0: back to back) until `stop()`; counts what was confirmed sent. */
function drive(send, intervalMs) {
  let running = true;
  let sent = 0;
  let failed = 0;
  const loops = users.map(async (user) => {
    // Spread the users over the interval so the load is even.
    if (intervalMs > 0) await sleep(Math.random() * intervalMs);
    while (running) {
      const started = performance.now();
      try {
        const t = nowMicros();
        await send(user, { t });
        ackHistogram(ackPhase).recordValue(Math.max(1, nowMicros() - t));
        sent++;
      } catch {
        failed++;
      }
      if (intervalMs > 0) await sleep(Math.max(0, intervalMs - (performance.now() - started)));
      else if (sent % 256 === 0) await new Promise((r) => setImmediate(r));
    }
  });
  return {
    get sent() {
      return sent;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return { sent, failed };
    },
  };
}

/** Reports of every receiver process, merged: received counts summed, histograms added, per phase. */
async function report(receivers) {
  const parts = await Promise.all(
    receivers.map((r) => {
      r.send({ type: 'report' });
      return r.next('report');
    }),
  );
  const phases = {};
  for (const part of parts) {
    for (const [name, encoded] of Object.entries(part.phases)) {
      const h = hdr.decodeFromCompressedBase64(encoded);
      if (phases[name]) phases[name].add(h);
      else phases[name] = h;
    }
  }
  const summary = {};
  for (const [name, h] of Object.entries(phases)) summary[name] = { count: h.totalCount, p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), max: h.maxValue };
  // Event-loop delay (µs) of the worst receiver process, per phase and per phase and group (`<phase>:stayed`).
  const loopDelays = {};
  const worst = (key, d) => {
    if (!loopDelays[key] || d.p99 > loopDelays[key].p99) loopDelays[key] = d;
  };
  // Clients that moved node, per phase and group (`<phase>:stayed` should be 0: those users' node did not change).
  const moves = {};
  for (const part of parts) {
    for (const [name, d] of Object.entries(part.loopDelays ?? {})) {
      worst(name, d);
      worst(`${name}:${part.group}`, d);
    }
    for (const [name, n] of Object.entries(part.moves ?? {})) moves[`${name}:${part.group}`] = (moves[`${name}:${part.group}`] ?? 0) + n;
  }
  return { phases: summary, loopDelays, moves, raw: parts.map((p) => p.raw ?? {}), received: parts.reduce((sum, p) => sum + p.received, 0) };
}

const broadcast = (receivers, message) => {
  if (message.type === 'phase') ackPhase = message.name;
  receivers.forEach((r) => r.send(message));
};

/** A plain NATS path: `jetstream` false publishes core messages to floor.user.<u>; true publishes to a stream that republishes to floor.live.<u>. */
async function runFloor(natsUrl, useJetStream) {
  const receivers = [forkChild(RECEIVERS, [], { name: 'floor receivers' })];
  receivers[0].send({ type: 'start', kind: 'floor', users, nats: natsUrl, prefix: useJetStream ? 'floor.live' : 'floor.user' });
  await receivers[0].next('ready');
  const nc = await connect({ servers: natsUrl });
  const encoder = new TextEncoder();
  let send;
  if (useJetStream) {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'BENCH_FLOOR', subjects: ['floor.stored.>'], republish: { src: 'floor.stored.>', dest: 'floor.live.>' } });
    const js = jetstream(nc);
    send = (user, data) => js.publish(`floor.stored.${user}`, encoder.encode(JSON.stringify(data)));
  } else {
    // Core publish is fire-and-forget; flush every so often so the loop measures delivery, not buffering.
    let unflushed = 0;
    send = async (user, data) => {
      nc.publish(`floor.user.${user}`, encoder.encode(JSON.stringify(data)));
      if (++unflushed >= 64) {
        unflushed = 0;
        await nc.flush();
      }
    };
  }
  broadcast(receivers, { type: 'phase', name: 'steady' });
  let load = drive(send, INTERVAL_MS);
  await sleep(PHASE_MS);
  await load.stop();
  await sleep(500);
  broadcast(receivers, { type: 'phase', name: 'blast' });
  const before = (await report(receivers)).received;
  const started = performance.now();
  load = drive(send, 0);
  await sleep(BLAST_MS);
  await load.stop();
  await nc.flush();
  await sleep(500);
  const r = await report(receivers);
  const perSec = (r.received - before) / ((performance.now() - started - 500) / 1000);
  await nc.close();
  await receivers[0].stop();
  return { steady: r.phases.steady, perSec };
}

/**
 * Acknowledged publishes per second at saturation, publishing only (receivers are not part of it): nats.js
 * `js.publish` (one request per message) against wsring's publisher (per-user order and optimistic concurrency,
 * pipelined across users over one acknowledgement inbox), same users, same server, one after the other.
 */
async function runPublishOnly(natsUrl) {
  const nc = await connect({ servers: natsUrl });
  const encoder = new TextEncoder();
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'BENCH_PUBLISH', subjects: ['pubonly.>'] });
  const publisher = await createPublisher({ nats: nc, stream: 'BENCH_PUBLISH_WSRING', subjectPrefix: 'pubonly-wsring.user', livePrefix: 'pubonly-wsring.live' });
  const rate = async (send) => {
    const load = drive(send, 0);
    await sleep(1_000);
    const from = load.sent;
    const started = performance.now();
    await sleep(BLAST_MS);
    const n = load.sent - from;
    const seconds = (performance.now() - started) / 1000;
    await load.stop();
    return n / seconds;
  };
  ackPhase = 'publish-only';
  const jsRate = await rate((user, data) => js.publish(`pubonly.${user}`, encoder.encode(JSON.stringify(data))));
  const wsRate = await rate((user, data) => publisher.publish(user, data));
  await publisher.close();
  await nc.close();
  return { jsRate, wsRate };
}

async function runWsring(nats) {
  ackHistograms.clear();
  if (probe) {
    // Every Node process started from here on (agents, client processes, the observer) and this one, the publisher.
    process.env.WSRING_PROBE_DIR = mkdtempSync(join(tmpdir(), 'wsring-probe-'));
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${PROBE}`.trim();
    await import(PROBE);
  }
  let flags = AGENT_FLAGS;
  let topologyKey;
  if (signed) {
    const pair = generateTopologyKeyPair();
    const keyFile = join(mkdtempSync(join(tmpdir(), 'wsring-bench-key-')), 'topology.pem');
    writeFileSync(keyFile, pair.privateKeyPem, { mode: 0o600 });
    flags = { ...AGENT_FLAGS, topologyKeyFile: keyFile };
    topologyKey = pair.publicKey;
  }
  const agents = [await spawnAgent({ id: 'a1', nats: nats.url, ...flags }), await spawnAgent({ id: 'a2', nats: nats.url, ...flags })];
  const receivers = Array.from({ length: CLIENT_PROCESSES }, (_, i) => forkChild(RECEIVERS, [], { name: `wsring clients ${i}` }));
  let observer;
  try {
    // Who the third agent's join will move (the agents' own ring, plus a3), so they get their own client process.
    const ring = await fleetRing(agents, 2);
    const moving = new Set(movedKeys(ring, ring.withNodes([{ id: 'a3' }]), users).map((m) => m.key));
    const stayers = users.filter((u) => !moving.has(u));
    const half = Math.ceil(stayers.length / 2);
    const groups = [stayers.slice(0, half), stayers.slice(half), users.filter((u) => moving.has(u))];
    receivers.forEach((r, i) => r.send({ type: 'start', kind: 'wsring', users: groups[i], group: i < 2 ? 'stayed' : 'moved', topologyKey, bootstrap: agents.map((a) => a.httpUrl), raw: probe ? ['steady', 'startup', 'rebalance'] : [] }));
    await Promise.all(receivers.map((r) => r.next('ready', 120_000)));
    const pids = () => [nats.pid, process.pid, ...agents.map((a) => a.pid), ...receivers.map((r) => r.pid)];
    if (probe) {
      observer = forkChild(OBSERVER, [], { name: 'observer' });
      observer.send({ type: 'start', nats: nats.url, prefix: 'wsring.live', pids: pids() });
      await observer.next('ready');
    }
    const marks = {};
    const publisher = await createPublisher({ nats: { servers: nats.url } });
    const send = (user, data) => publisher.publish(user, data);

    broadcast(receivers, { type: 'phase', name: 'warmup' });
    let load = drive(send, INTERVAL_MS);
    await sleep(1_000);
    broadcast(receivers, { type: 'phase', name: 'steady' });
    await sleep(PHASE_MS);

    // A third agent joins: a third of the users reconnect to it, replaying on arrival, while the load continues.
    // Its process start-up (CPU-heavy on a small machine) is kept out of the rebalance figures.
    broadcast(receivers, { type: 'phase', name: 'startup' });
    marks.startup = Date.now();
    if (probe) writeFileSync(join(process.env.WSRING_PROBE_DIR, 'profiling'), '');
    observer?.send({ type: 'window', on: true });
    agents.push(await spawnAgent({ id: 'a3', nats: nats.url, ...flags }));
    observer?.send({ type: 'pids', pids: pids() });
    broadcast(receivers, { type: 'phase', name: 'rebalance' });
    marks.rebalance = Date.now();
    const joinedAt = performance.now();
    const sentLog = await agents[0].waitForLog((l) => l.event === 'rebalance-sent', 60_000).catch(() => undefined);
    await agents[1].waitForLog((l) => l.event === 'rebalance-sent', 60_000).catch(() => undefined);
    const rebalanceMs = performance.now() - joinedAt;
    await sleep(1_000);
    broadcast(receivers, { type: 'phase', name: 'after' });
    marks.after = Date.now();
    if (probe) rmSync(join(process.env.WSRING_PROBE_DIR, 'profiling'), { force: true });
    observer?.send({ type: 'window', on: false });
    await load.stop();
    await sleep(1_000);

    broadcast(receivers, { type: 'phase', name: 'blast' });
    const before = (await report(receivers)).received;
    const started = performance.now();
    load = drive(send, 0);
    await sleep(BLAST_MS);
    const { failed } = await load.stop();
    await sleep(1_000);
    const r = await report(receivers);
    const perSec = (r.received - before) / ((performance.now() - started - 1_000) / 1000);
    await publisher.close();
    const acks = Object.fromEntries(['steady', 'rebalance'].map((name) => [name, ackHistogram(name)]));
    let probed;
    if (probe) {
      observer.send({ type: 'report' });
      const seen = await observer.next('report');
      const names = new Map([[nats.pid, 'nats-server'], [process.pid, 'publisher'], ...agents.map((a) => [a.pid, `agent ${a.id}`]), ...receivers.map((rc, i) => [rc.pid, i < 2 ? `clients ${i} (stay)` : 'clients 2 (move)'])]);
      const logs = agents.flatMap((a) => a.logs.filter((l) => ['listening', 'rebalance', 'rebalance-sent'].includes(l.event) || l.msg === 'topology applied').map((l) => ({ agent: a.id, ...l })));
      probed = { marks, raw: r.raw, observed: seen.messages, cpu: seen.cpu, names, logs, dir: process.env.WSRING_PROBE_DIR };
    }
    return {
      acks,
      probed,
      loopDelays: r.loopDelays, moves: r.moves, steady: r.phases.steady, steadyStayed: r.phases['steady:stayed'], rebalance: r.phases.rebalance, moved: r.phases['rebalance:moved'], stayed: r.phases['rebalance:stayed'], perSec, perAgent: perSec / agents.length, agents: agents.length, failed, rebalanceMs, reconnects: sentLog?.sent };
  } finally {
    await observer?.stop();
    await Promise.all(receivers.map((r) => r.stop()));
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
  }
}

const ms = (micros) => `${(micros / 1000).toFixed(2)} ms`;

const nats = await startNatsServer();
try {
  console.log(`\nDelivery benchmark: ${USERS} users, one message per user every ${INTERVAL_MS} ms (${fmtInt((USERS * 1000) / INTERVAL_MS)} msg/s offered) for the latency phases; saturation for throughput.${signed ? ' Signed topologies: clients given the fleet\'s key (--signed).' : ''}`);
  const floor = await runFloor(nats.url, false);
  const jsFloor = await runFloor(nats.url, true);
  const ws = await runWsring(nats);
  const pub = await runPublishOnly(nats.url);
  printTable(
    'Publish-to-delivery latency (HDR histograms; ratio = wsring / plain NATS)',
    ['path', 'messages', 'p50', 'p99', 'p50 ratio', 'p99 ratio'],
    [
      ['plain NATS publish -> subscribe (floor)', fmtInt(floor.steady.count), ms(floor.steady.p50), ms(floor.steady.p99), '1.00x', '1.00x'],
      ['JetStream publish (acked) -> republish -> subscribe', fmtInt(jsFloor.steady.count), ms(jsFloor.steady.p50), ms(jsFloor.steady.p99), fmtRatio(jsFloor.steady.p50 / floor.steady.p50), fmtRatio(jsFloor.steady.p99 / floor.steady.p99)],
      ['wsring, steady state', fmtInt(ws.steady.count), ms(ws.steady.p50), ms(ws.steady.p99), fmtRatio(ws.steady.p50 / floor.steady.p50), fmtRatio(ws.steady.p99 / floor.steady.p99)],
      ['wsring, during a rebalance (2 -> 3 agents)', fmtInt(ws.rebalance.count), ms(ws.rebalance.p50), ms(ws.rebalance.p99), fmtRatio(ws.rebalance.p50 / floor.steady.p50), fmtRatio(ws.rebalance.p99 / floor.steady.p99)],
      ...[
        ['  users that stayed (their node did not change)', ws.stayed],
        ['  users that moved (before, during and after their move)', ws.moved],
      ]
        .filter(([, h]) => h)
        .map(([label, h]) => [label, fmtInt(h.count), ms(h.p50), ms(h.p99), fmtRatio(h.p50 / floor.steady.p50), fmtRatio(h.p99 / floor.steady.p99)]),
    ],
  );
  const ack = (h) => [fmtInt(h.totalCount), ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(99))];
  printTable('Publish acknowledgement latency of wsring publishes (publish() resolving: stored in JetStream)', ['phase', 'publishes', 'p50', 'p99'], [
    ['steady state', ...ack(ws.acks.steady)],
    ['during the rebalance', ...ack(ws.acks.rebalance)],
  ]);
  const loop = (name) => ws.loopDelays[name] ?? { p50: 0, p99: 0 };
  printTable('Event-loop delay of the client processes (worst process of each kind: the users that stay share two, the movers a third; a browser tab holds one)', ['phase', 'stayed p50', 'stayed p99', 'moved p50', 'moved p99'], [
    ['steady state', ms(loop('steady:stayed').p50), ms(loop('steady:stayed').p99), ms(loop('steady:moved').p50), ms(loop('steady:moved').p99)],
    ['during the rebalance', ms(loop('rebalance:stayed').p50), ms(loop('rebalance:stayed').p99), ms(loop('rebalance:moved').p50), ms(loop('rebalance:moved').p99)],
  ]);
  printTable(
    'Throughput at saturation (one loop per user, back to back; ratio = wsring / plain NATS)',
    ['path', 'messages/s delivered', 'per agent', 'ratio'],
    [
      ['plain NATS publish -> subscribe (floor)', fmtInt(floor.perSec), '-', '1.00x'],
      ['JetStream publish (acked) -> republish -> subscribe', fmtInt(jsFloor.perSec), '-', fmtRatio(jsFloor.perSec / floor.perSec)],
      [`wsring, ${ws.agents} agents`, fmtInt(ws.perSec), fmtInt(ws.perAgent), fmtRatio(ws.perSec / floor.perSec)],
    ],
  );
  printTable(
    'Acknowledged publishes per second, publishing only (one loop per user, back to back; ratio = wsring / nats.js js.publish)',
    ['publisher', 'acked publishes/s', 'ratio'],
    [
      ['nats.js js.publish (one request per message, no per-user order)', fmtInt(pub.jsRate), '1.00x'],
      ['wsring publisher (per-user order + expected-last check, pipelined over one inbox)', fmtInt(pub.wsRate), fmtRatio(pub.wsRate / pub.jsRate)],
    ],
  );
  if (ws.stayed && ws.steadyStayed) {
    console.log(
      `\nRebalance vs steady, users that did not move: p99 ${ms(ws.stayed.p99)} against ${ms(ws.steadyStayed.p99)}, the same users in steady state (${fmtRatio(ws.stayed.p99 / ws.steadyStayed.p99)}); ` +
        `users that moved (reconnect + replay + delivery): p50 ${ms(ws.moved?.p50 ?? 0)}, p99 ${ms(ws.moved?.p99 ?? 0)}. ` +
        `Delivered at saturation: ${fmtRatio(ws.perSec / jsFloor.perSec)} of JetStream acked publish + republish.`,
    );
  }
  console.log(`\nRebalance: reconnect frames sent by the first agent ${ws.reconnects ?? '?'}, joiner listening to last frame sent ${(ws.rebalanceMs / 1000).toFixed(2)} s; clients that changed node: ${ws.moves['rebalance:moved'] ?? 0} of the movers, ${ws.moves['rebalance:stayed'] ?? 0} of the others. Failed publishes: ${ws.failed}.`);
  console.log('All processes share this machine\'s cores: the publisher, nats-server, agents and clients compete with each other.');
  if (ws.probed) printTimeline(ws.probed);
} finally {
  await nats.stop();
}
