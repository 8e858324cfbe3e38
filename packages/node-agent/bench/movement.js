// Movement benchmark (issue 9): 40,000 real @wsring/client instances in 8 client processes of 5,000, each process on
// its own local address (127.0.0.2-9), against wsring-agent processes on one nats-server, all at the agents'
// defaults (accept rate 1,000/s, sender ceiling 1,000/s, drain deadline 30 s; capacity raised so 4 nodes hold 40,000).
//  1. scale out 4 -> 6 agents;  2. a handoff deploy of every node, one after another;  3. a drain of the fullest node.
// Per scenario: peak arrivals per receiver in any second against its accept rate, time to the last arrival against
// M/A (M users to the slowest receiver), reconnect frames against the movedKeys minimum, users moved more than once.
// The fleet signs its topologies (--topology-key-file; the clients get its public key), as docs/security.md advises:
// a client follows a handoff frame at once instead of asking its bootstrap URLs to confirm it. The clients bootstrap
// from one stable address (a small proxy here, standing in for a DNS name or load balancer) that forwards /topology
// to a live agent: the agents' own URLs all change during the handoff deploy.
// "Moved twice" counts users that, within one change (one scenario; in the deploy, one node's handoff, from its
// SIGTERM to the next node's), got more than one reconnect frame or opened more than once; of those, how many
// failed over (an open as a stand-in or a `moved` event with reason failover) is shown beside it.
// Flags: --quick (8,000 users in 2 processes), --users=N, --unsigned (no fleet key: clients confirm moves by fetch).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { movedKeys } from '@wsring/ring';
import { DEFAULTS, generateTopologyKeyPair } from '@wsring/node-agent';
import { spawnAgent, startNatsServer } from '@wsring/node-agent/testing';
import { forkChild } from './lib/rebalance-ipc.js';
import { fleetCounter, fleetRing } from './lib/rebalance-fleet.js';
import { peakPerSecond } from './lib/rebalance-analysis.js';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const signed = !process.argv.includes('--unsigned');
const USERS = Number(arg('users') ?? (quick ? 8_000 : 40_000));
const PROCESSES = Math.max(1, Math.ceil(USERS / 5_000));
const ACCEPT = DEFAULTS.acceptRate;
const DEADLINE_MS = 12 * 60_000;
const CLIENTS_FILE = fileURLToPath(new URL('./lib/rebalance-clients.js', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (n) => Math.round(n).toLocaleString('en-US');

const watchdog = setTimeout(() => {
  console.error(`movement bench: not done within ${DEADLINE_MS / 1000} s, stopping`);
  process.exit(1);
}, DEADLINE_MS);
watchdog.unref();
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

const users = Array.from({ length: USERS }, (_, i) => `user-${i}`);
const shares = Array.from({ length: PROCESSES }, (_, p) => users.filter((_, i) => i % PROCESSES === p));

async function collect(clients) {
  for (const c of clients) c.send({ type: 'report' });
  const reports = await Promise.all(clients.map((c) => c.next('report')));
  return { activity: new Map(reports.flatMap((r) => r.activity)), nodes: new Map(reports.flatMap((r) => r.nodes)) };
}

async function mark(clients) {
  for (const c of clients) c.send({ type: 'mark' });
  await Promise.all(clients.map((c) => c.next('marked')));
}

/** Until every client is open (on any node), or `ms`. */
async function allOpen(clients, ms) {
  const until = Date.now() + ms;
  for (;;) {
    const { nodes } = await collect(clients);
    const away = [...nodes.values()].filter((n) => n === undefined).length;
    if (away === 0 || Date.now() > until) return away;
    await sleep(500);
  }
}

/** Whether a user's activity shows a failover in [from, to): an open as a stand-in or a move for that reason. */
const failedOver = (a, from, to) => a.opens.some((o) => o.standIn && o.at >= from && o.at < to) || a.moves.some((m) => m.reason === 'failover' && m.at >= from && m.at < to);

/**
 * Users that within [from, to) got more than one reconnect frame or opened more than once; of those, how many opened
 * more than once (changed node twice) and how many failed over.
 */
function movedTwice(activity, from, to = Infinity) {
  let twice = 0;
  let reopened = 0;
  let failovers = 0;
  for (const [, a] of activity) {
    const frames = a.frames.filter((t) => t >= from && t < to).length;
    const opens = a.opens.filter((o) => o.at >= from && o.at < to).length;
    if (frames <= 1 && opens <= 1) continue;
    twice++;
    if (opens > 1) reopened++;
    if (failedOver(a, from, to)) failovers++;
  }
  return { twice, reopened, failovers };
}

/**
 * The figures of one change from what the clients saw in [startedAt, until): arrivals (opens) per node per second,
 * time to the last arrival at each receiver against M/A, frames against `minimum`, users moved twice (see above).
 */
function figures(name, activity, startedAt, minimum, until = Infinity) {
  const byNode = new Map();
  let frames = 0;
  for (const [, a] of activity) {
    frames += a.frames.filter((t) => t >= startedAt && t < until).length;
    for (const o of a.opens) {
      if (o.at < startedAt || o.at >= until) continue;
      const list = byNode.get(o.node) ?? [];
      list.push(o.at);
      byNode.set(o.node, list);
    }
  }
  let peak = 0;
  let peakNode = '';
  let slowest = { ratio: 0, node: '', users: 0, ms: 0 };
  for (const [node, times] of byNode) {
    const p = peakPerSecond(times);
    if (p > peak) [peak, peakNode] = [p, node];
    const ms = Math.max(...times) - startedAt;
    const ratio = ms / ((times.length / ACCEPT) * 1000);
    if (times.length >= 100 && ratio > slowest.ratio) slowest = { ratio, node, users: times.length, ms };
  }
  return { name, peak, peakNode, slowest, frames, minimum, ...movedTwice(activity, startedAt, until), receivers: byNode.size };
}

function print(rows) {
  console.log('\nscenario              peak arrivals/s at one node  (accept)  last arrival / (M/A) at the slowest receiver     frames / movedKeys minimum  moved twice (opened twice, failovers)');
  for (const r of rows) {
    const slow = `${r.slowest.ratio.toFixed(2)}x (${r.slowest.node}: ${fmt(r.slowest.users)} users in ${(r.slowest.ms / 1000).toFixed(1)} s, M/A ${(r.slowest.users / ACCEPT).toFixed(1)} s)`;
    console.log(`${r.name.padEnd(21)} ${`${fmt(r.peak)} (${r.peakNode})`.padStart(28)}  ${String(ACCEPT).padStart(8)}  ${slow.padEnd(48)} ${`${fmt(r.frames)} / ${fmt(r.minimum)} = ${(r.frames / Math.max(1, r.minimum)).toFixed(3)}`.padStart(27)}  ${`${r.twice} (${r.reopened}, ${r.failovers})`.padStart(23)}`);
  }
}

const cpu = os.cpus();
console.log(`wsring movement benchmark: ${fmt(USERS)} SDK clients in ${PROCESSES} processes, ${signed ? 'signed topologies' : 'unsigned topologies (moves confirmed by fetch)'}; Node ${process.version}, ${cpu.length} x ${cpu[0]?.model.trim()}; load average ${os.loadavg()[0].toFixed(1)} at start`);
const nats = await startNatsServer();
const agents = new Map();
let clients = [];
const rows = [];
const fleetKey = signed ? generateTopologyKeyPair() : undefined;
const keyFile = fleetKey && join(mkdtempSync(join(os.tmpdir(), 'wsring-bench-key-')), 'topology.pem');
if (fleetKey) writeFileSync(keyFile, fleetKey.privateKeyPem, { mode: 0o600 });
const bootstrapProxy = await stableBootstrap(() => [...agents.values()].map((a) => a.httpUrl));
try {
  const flags = { nats: nats.url, capacity: USERS, logLevel: 'info', noDelivery: true, ...(keyFile ? { topologyKeyFile: keyFile } : {}) };
  for (const id of ['node-1', 'node-2', 'node-3', 'node-4']) agents.set(id, await spawnAgent({ id, ...flags }));
  let ring = await fleetRing([...agents.values()], 4);
  clients = shares.map((_, i) => forkChild(CLIENTS_FILE, [], { name: `clients-${i}` }));
  const bootstrap = [bootstrapProxy.url];
  const connectStart = Date.now();
  clients.forEach((c, i) => c.send({ type: 'start', users: shares[i], bootstrap, localAddress: `127.0.0.${2 + i}`, sharedFetch: true, topologyKey: fleetKey?.publicKey }));
  await Promise.all(clients.map((c) => c.next('connected', 300_000)));
  console.log(`  ${fmt(USERS)} clients connected in ${((Date.now() - connectStart) / 1000).toFixed(1)} s; load average ${os.loadavg()[0].toFixed(1)}`);
  const framesOf = () => fleetCounter([...agents.values()], 'wsring_reconnects_sent_total');

  // 1. Scale out 4 -> 6.
  {
    const next = ring.withNodes([{ id: 'node-5' }, { id: 'node-6' }]);
    const minimum = movedKeys(ring, next, users).length;
    await mark(clients);
    const startedAt = Date.now();
    // Both joiners at once: one change (a second join a settle window later would be a second change, moving some twice).
    const joined = await Promise.all(['node-5', 'node-6'].map((id) => spawnAgent({ id, ...flags })));
    joined.forEach((a, i) => agents.set(`node-${5 + i}`, a));
    ring = await fleetRing([...agents.values()], 6, 60_000);
    await sleep(2_000);
    const away = await allOpen(clients, 60_000);
    await sleep(1_500);
    const { activity } = await collect(clients);
    rows.push(figures('scale out 4 -> 6', activity, startedAt, minimum));
    console.log(`  scale out done (${away} clients not open)`);
  }

  // 2. A handoff deploy of every node: a successor under the same id on another port, then SIGTERM to the old one.
  // Each node's handoff is one change, measured from its own SIGTERM to the next one's.
  {
    await mark(clients);
    const handoffs = [];
    for (const id of [...agents.keys()].sort()) {
      const old = agents.get(id);
      const successor = await spawnAgent({ id, ...flags });
      await successor.waitForLog((l) => String(l.msg).includes('waiting as its successor'), 30_000);
      const { nodes } = await collect(clients);
      const held = [...nodes.values()].filter((n) => n === id).length;
      const startedAt = Date.now();
      await old.stop(60_000);
      const exit = old.logs.find((l) => l.event === 'exit');
      console.log(`  ${id}: held ${fmt(held)}, handed ${fmt(exit?.handedOff ?? 0)} users over in ${fmt(Date.now() - startedAt)} ms to exit, ${exit?.remaining ?? '?'} left at the deadline`);
      agents.set(id, successor);
      handoffs.push({ id, held, startedAt });
    }
    const away = await allOpen(clients, 60_000);
    await sleep(1_500);
    const { activity } = await collect(clients);
    const deploy = handoffs.map((h, i) => figures(`handoff ${h.id} (${fmt(h.held)})`, activity, h.startedAt, h.held, handoffs[i + 1]?.startedAt ?? Infinity));
    const total = { frames: 0, minimum: 0, twice: 0, reopened: 0, failovers: 0, peak: 0, peakNode: '', slowest: { ratio: 0, node: '', users: 0, ms: 0 } };
    for (const r of deploy) {
      total.frames += r.frames;
      total.minimum += r.minimum;
      total.twice += r.twice;
      total.reopened += r.reopened;
      total.failovers += r.failovers;
      if (r.peak > total.peak) [total.peak, total.peakNode] = [r.peak, r.peakNode];
      if (r.slowest.ratio > total.slowest.ratio) total.slowest = r.slowest;
    }
    rows.push(...deploy, { name: 'handoff of every node', ...total });
    const anyTwice = [...activity.values()].filter((a) => a.opens.length > 1).length;
    console.log(`  handoff deploy done (${away} clients not open; ${anyTwice} users opened more than once over the whole deploy, across changes)`);
  }

  // 3. Drain of the fullest node.
  {
    const { nodes } = await collect(clients);
    const count = new Map();
    for (const n of nodes.values()) count.set(n, (count.get(n) ?? 0) + 1);
    const [id, held] = [...count].sort((a, b) => b[1] - a[1])[0];
    const next = ring.withoutNodes([id]);
    const minimum = movedKeys(ring, next, users).length;
    await mark(clients);
    const startedAt = Date.now();
    const draining = agents.get(id);
    agents.delete(id);
    await draining.stop(60_000);
    const sized = draining.logs.find((l) => l.msg === 'drain sized' || String(l.msg).startsWith('drain deadline too short'));
    const exit = draining.logs.find((l) => l.event === 'exit');
    console.log(`  drain of ${id} holding ${fmt(held)}: computed ${fmt(sized?.expectedMs ?? NaN)} ms, took ${fmt(exit ? exit.time - startedAt : NaN)} ms to exit, ${exit?.remaining ?? '?'} left at the deadline`);
    const away = await allOpen(clients, 60_000);
    await sleep(1_500);
    const { activity } = await collect(clients);
    rows.push(figures(`drain ${id} (${fmt(held)})`, activity, startedAt, minimum));
    console.log(`  drain done (${away} clients not open)`);
  }
  print(rows);
  console.log(`\nframes sent by the fleet in all: ${fmt(await framesOf())} (the agents alive at the end); load average ${os.loadavg()[0].toFixed(1)} at the end`);
} finally {
  bootstrapProxy.close();
  await Promise.all(clients.map((c) => c.stop()));
  await Promise.all([...agents.values()].map((a) => a.kill()));
  await nats.stop();
  clearTimeout(watchdog);
}

/**
 * One stable bootstrap address, as production has (a DNS name or a load balancer in front of the agents): each
 * request goes to the next live agent in turn, the following ones if it fails.
 */
async function stableBootstrap(liveUrls) {
  let next = 0;
  const server = createServer(async (req, res) => {
    const urls = liveUrls();
    for (let i = 0; i < urls.length; i++) {
      const base = urls[(next + i) % urls.length];
      try {
        const answer = await fetch(new URL(req.url ?? '/', base), { headers: { accept: req.headers.accept ?? 'application/json' }, signal: AbortSignal.timeout(5_000) });
        if (!answer.ok && i < urls.length - 1) continue;
        const body = Buffer.from(await answer.arrayBuffer());
        next = (next + i + 1) % Math.max(1, urls.length);
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
        res.end(body);
        return;
      } catch {
        // That agent is gone (or too slow): the next one.
      }
    }
    res.writeHead(502).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}
