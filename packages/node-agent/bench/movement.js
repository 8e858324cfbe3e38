// Movement benchmark (issue 9): 40,000 real @wsring/client instances in 8 client processes of 5,000, each process on
// its own local address (127.0.0.2-9), against wsring-agent processes on one nats-server, all at the agents'
// defaults (accept rate 1,000/s, sender ceiling 1,000/s, drain deadline 30 s; capacity raised so 4 nodes hold 40,000).
//  1. scale out 4 -> 6 agents;  2. a handoff deploy of every node, one after another;  3. a drain of the fullest node.
// Per scenario: peak arrivals per receiver in any second against its accept rate, time to the last arrival against
// M/A (M users to the slowest receiver), reconnect frames against the movedKeys minimum, users moved more than once.
// Flags: --quick (8,000 users in 2 processes), --users=N.
// Known limits (seen in its one --quick run, on a machine at load average ~25): the clients bootstrap from the first
// four agents' URLs, which are all gone after the handoff deploy, so a client that needs /topology afterwards cannot
// get it (production bootstraps from a stable name); the handoff row measures every node from the start of the whole
// deploy, not from its own handoff; "moved twice" counts any second open in the scenario, failovers under load and
// stand-ins returning included.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { movedKeys } from '@wsring/ring';
import { DEFAULTS } from '@wsring/node-agent';
import { spawnAgent, startNatsServer } from '@wsring/node-agent/testing';
import { forkChild } from './lib/rebalance-ipc.js';
import { fleetCounter, fleetRing } from './lib/rebalance-fleet.js';
import { peakPerSecond } from './lib/rebalance-analysis.js';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
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

/**
 * The figures of one scenario from what the clients saw since the mark: arrivals (opens) per node per second, time
 * to the last arrival at each receiver against M/A, frames against `minimum`, users that opened more than once.
 */
function figures(name, activity, startedAt, minimum) {
  const byNode = new Map();
  let frames = 0;
  let twice = 0;
  for (const [, a] of activity) {
    frames += a.reconnectFrames;
    if (a.opens.length > 1) twice++;
    for (const o of a.opens) {
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
  return { name, peak, peakNode, slowest, frames, minimum, twice, receivers: byNode.size };
}

function print(rows) {
  console.log('\nscenario              peak arrivals/s at one node  (accept)  last arrival / (M/A) at the slowest receiver     frames / movedKeys minimum  users moved twice');
  for (const r of rows) {
    const slow = `${r.slowest.ratio.toFixed(2)}x (${r.slowest.node}: ${fmt(r.slowest.users)} users in ${(r.slowest.ms / 1000).toFixed(1)} s, M/A ${(r.slowest.users / ACCEPT).toFixed(1)} s)`;
    console.log(`${r.name.padEnd(21)} ${`${fmt(r.peak)} (${r.peakNode})`.padStart(28)}  ${String(ACCEPT).padStart(8)}  ${slow.padEnd(48)} ${`${fmt(r.frames)} / ${fmt(r.minimum)} = ${(r.frames / Math.max(1, r.minimum)).toFixed(3)}`.padStart(27)}  ${String(r.twice).padStart(17)}`);
  }
}

const cpu = os.cpus();
console.log(`wsring movement benchmark: ${fmt(USERS)} SDK clients in ${PROCESSES} processes; Node ${process.version}, ${cpu.length} x ${cpu[0]?.model.trim()}; load average ${os.loadavg()[0].toFixed(1)} at start`);
const nats = await startNatsServer();
const agents = new Map();
let clients = [];
const rows = [];
try {
  const flags = { nats: nats.url, capacity: USERS, logLevel: 'info', noDelivery: true };
  for (const id of ['node-1', 'node-2', 'node-3', 'node-4']) agents.set(id, await spawnAgent({ id, ...flags }));
  let ring = await fleetRing([...agents.values()], 4);
  clients = shares.map((_, i) => forkChild(CLIENTS_FILE, [], { name: `clients-${i}` }));
  const bootstrap = [...agents.values()].map((a) => a.httpUrl);
  const connectStart = Date.now();
  clients.forEach((c, i) => c.send({ type: 'start', users: shares[i], bootstrap, localAddress: `127.0.0.${2 + i}`, sharedFetch: true }));
  await Promise.all(clients.map((c) => c.next('connected', 300_000)));
  console.log(`  ${fmt(USERS)} clients connected in ${((Date.now() - connectStart) / 1000).toFixed(1)} s; load average ${os.loadavg()[0].toFixed(1)}`);
  const framesOf = () => fleetCounter([...agents.values()], 'wsring_reconnects_sent_total');

  // 1. Scale out 4 -> 6.
  {
    const next = ring.withNodes([{ id: 'node-5' }, { id: 'node-6' }]);
    const minimum = movedKeys(ring, next, users).length;
    await mark(clients);
    const startedAt = Date.now();
    for (const id of ['node-5', 'node-6']) agents.set(id, await spawnAgent({ id, ...flags }));
    ring = await fleetRing([...agents.values()], 6, 60_000);
    await sleep(2_000);
    const away = await allOpen(clients, 60_000);
    await sleep(1_500);
    const { activity } = await collect(clients);
    rows.push(figures('scale out 4 -> 6', activity, startedAt, minimum));
    console.log(`  scale out done (${away} clients not open)`);
  }

  // 2. A handoff deploy of every node: a successor under the same id on another port, then SIGTERM to the old one.
  {
    await mark(clients);
    const startedAt = Date.now();
    const { nodes } = await collect(clients);
    let minimum = 0;
    for (const id of [...agents.keys()].sort()) {
      minimum += [...nodes.values()].filter((n) => n === id).length;
      const old = agents.get(id);
      const successor = await spawnAgent({ id, ...flags });
      await successor.waitForLog((l) => String(l.msg).includes('waiting as its successor'), 30_000);
      await old.stop(60_000);
      const exit = old.logs.find((l) => l.event === 'exit');
      console.log(`  ${id}: handed ${fmt(exit?.handedOff ?? 0)} users over, ${exit?.remaining ?? '?'} left at the deadline`);
      agents.set(id, successor);
    }
    const away = await allOpen(clients, 60_000);
    await sleep(1_500);
    const { activity } = await collect(clients);
    rows.push(figures('handoff of every node', activity, startedAt, minimum));
    console.log(`  handoff deploy done (${away} clients not open)`);
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
  await Promise.all(clients.map((c) => c.stop()));
  await Promise.all([...agents.values()].map((a) => a.kill()));
  await nats.stop();
  clearTimeout(watchdog);
}
