// Rebalance benchmark: a 4th agent joins a fleet of 3 that holds 20,000 real @wsring/client instances.
//  1. Time from the joiner's registration in NATS until the last moved client is open on its new node, at two
//     pacing rates, beside the floor the pacing itself sets.
//  2. Reconnect frames the clients received against the theoretical minimum (the users whose owner changed, by
//     movedKeys over every user id), and users that did not move but were touched anyway.
//  3. Memory per connection of an agent against a bare `ws` server holding the same connections.
// Everything runs in child processes on loopback: nats-server, agents (the wsring-agent CLI), and client processes
// of 5,000 clients each on their own 127.0.0.x address. Flags: --quick (4,000 users), --users=N, --rates=a,b,
// --only=rebalance|memory, --delivery=off (agents without per-user delivery), --fetch=shared (clients of one process
// share in-flight /topology requests during the rebalance too, as they do while filling).
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { movedKeys } from '@wsring/ring';
import { DEFAULTS, NatsMembership } from '@wsring/node-agent';
import { spawnAgent, startNatsServer } from '@wsring/node-agent/testing';
import { forkChild } from './lib/rebalance-ipc.js';
import { fleetCounter, fleetRing, listenOverflows } from './lib/rebalance-fleet.js';
import { summarize } from './lib/rebalance-analysis.js';
import { measureMemory, SERVER_KINDS } from './lib/rebalance-memory.js';
import { fmtInt, fmtSec, printMemory, printRebalance } from './lib/rebalance-format.js';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const USERS = Number(arg('users') ?? (quick ? 4_000 : 20_000));
const RATES = (arg('rates') ?? '500,2000').split(',').map(Number);
const only = arg('only');
/** Per-user delivery (a NATS subscription and a replay check per connection) is on by default, as in production. */
const DELIVERY = arg('delivery') !== 'off';
const SHARED_FETCH = arg('fetch') === 'shared';
/** Client processes; each holds USERS / CLIENT_PROCESSES clients from its own local address. */
const CLIENT_PROCESSES = 4;
const MEMORY_CONNECTIONS = quick ? 4_000 : 10_000;
const OLD_NODES = ['node-1', 'node-2', 'node-3'];
const JOINER = 'node-4';
/** After the last moved client is open again: time for any stray frame or close to show up before counting. */
const QUIET_MS = 1_500;
/** Moved clients not open again this long after the join are reported as such. */
const ARRIVAL_DEADLINE_MS = 30_000;
/** A phase is skipped, with a note, when less than this is left before the deadline. */
const PHASE_BUDGET_MS = { rebalance: 100_000, memory: 70_000 };
const DEADLINE_MS = 5 * 60_000;
const startedAt = Date.now();
/** Whether a phase of `kind` fits in the time left; says so when it does not. */
function fits(kind, what) {
  const left = DEADLINE_MS - (Date.now() - startedAt);
  if (left >= PHASE_BUDGET_MS[kind]) return true;
  console.log(`  skipped ${what}: ${Math.round(left / 1000)} s left of the ${DEADLINE_MS / 1000} s budget (the machine is slower than planned for)`);
  return false;
}
const { settleMs: SETTLE_MS, pacing } = DEFAULTS;

const CLIENTS_FILE = fileURLToPath(new URL('./lib/rebalance-clients.js', import.meta.url));

// Children are killed by exit hooks (in rebalance-ipc.js and in the testing helpers): every way out is an exit.
const watchdog = setTimeout(() => {
  console.error(`rebalance bench: not done within ${DEADLINE_MS / 1000} s, stopping`);
  process.exit(1);
}, DEADLINE_MS);
watchdog.unref();
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

const users = Array.from({ length: USERS }, (_, i) => `user-${i}`);
/** Local addresses no earlier phase used, so no phase meets another's ports in TIME_WAIT. */
let nextAddress = 2;
const takeAddresses = (n) => Array.from({ length: n }, () => `127.0.0.${nextAddress++}`);
const split = (list, parts) => Array.from({ length: parts }, (_, p) => list.filter((_, i) => i % parts === p));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Ask every client process for its record since the mark. */
async function collect(clients) {
  for (const c of clients) c.send({ type: 'report' });
  const reports = await Promise.all(clients.map((c) => c.next('report')));
  const states = {};
  for (const r of reports) for (const [s, n] of Object.entries(r.states)) states[s] = (states[s] ?? 0) + n;
  return {
    activity: new Map(reports.flatMap((r) => r.activity)),
    finalNode: new Map(reports.flatMap((r) => r.nodes)),
    waitingFor: reports.flatMap((r) => r.waitingFor),
    states,
  };
}

/** Start the client processes and connect every user to its owner under `ring`. */
async function connectClients(agents, ring, shares) {
  const addresses = takeAddresses(CLIENT_PROCESSES);
  const clients = shares.map((_, i) => forkChild(CLIENTS_FILE, [], { name: `clients-${i}` }));
  clients.forEach((c, i) => c.send({ type: 'start', users: shares[i], bootstrap: agents.map((a) => a.httpUrl), localAddress: addresses[i], sharedFetch: SHARED_FETCH }));
  const misplacedIn = (messages) => messages.map((m) => m.nodes.filter(([user, node]) => ring.owner(user) !== node).map(([user]) => user));
  const started = Date.now();
  let misplaced = misplacedIn(await Promise.all(clients.map((c) => c.next('connected', 120_000))));
  const connectMs = Date.now() - started;
  // On a loaded machine some connects outlast the client's timeout and fail over to a stand-in; those start
  // afresh, so the join begins with every user on its owner.
  for (let round = 0; round < 3 && misplaced.flat().length; round++) {
    console.log(`  ${misplaced.flat().length} clients failed over to a stand-in while connecting; reconnecting them`);
    clients.forEach((c, i) => c.send({ type: 'reseat', users: misplaced[i] }));
    misplaced = misplacedIn(await Promise.all(clients.map((c) => c.next('reseated', 120_000))));
  }
  if (misplaced.flat().length) throw new Error(`${misplaced.flat().length} clients are not on their owner before the join`);
  return { clients, connectMs };
}

/** Watch the membership bucket; `registered` resolves with the time `id`'s record first appears, as every agent sees it. */
async function watchRegistration(membership, id) {
  let resolve;
  const registered = new Promise((r) => (resolve = r));
  await membership.watch((e) => {
    if (e.type === 'put' && e.record.id === id) resolve(Date.now());
  });
  return { registered };
}

async function runRebalance(rate) {
  const nats = await startNatsServer();
  const agents = [];
  let clients = [];
  let membership;
  try {
    const flags = { nats: nats.url, rate, capacity: USERS, logLevel: 'info', noDelivery: !DELIVERY };
    agents.push(...(await Promise.all(OLD_NODES.map((id) => spawnAgent({ id, ...flags })))));
    const ring3 = await fleetRing(agents, OLD_NODES.length);
    const shares = split(users, CLIENT_PROCESSES);
    const connected = await connectClients(agents, ring3, shares);
    clients = connected.clients;

    // The minimum: users whose owner changes, brute force over every user id. Node metadata does not affect
    // placement, so the joiner's ring is known before it starts; the fleet's ring is checked against it below.
    const ring4 = ring3.withNodes([{ id: JOINER }]);
    const moved = movedKeys(ring3, ring4, users);
    const movedSet = new Set(moved.map((m) => m.key));
    clients.forEach((c, i) => c.send({ type: 'watch', expected: shares[i].filter((u) => movedSet.has(u)) }));
    await Promise.all(clients.map((c) => c.next('watching')));
    for (const c of clients) c.send({ type: 'mark' });
    await Promise.all(clients.map((c) => c.next('marked')));

    membership = await NatsMembership.connect({ servers: nats.url });
    const { registered } = await watchRegistration(membership, JOINER);
    const overflowsBefore = listenOverflows();
    const sentBefore = await fleetCounter(agents, 'wsring_reconnects_sent_total');
    const graceBefore = await fleetCounter(agents, 'wsring_grace_closes_total');
    const topologyBefore = await fleetCounter(agents, 'wsring_topology_requests_total');
    agents.push(await spawnAgent({ id: JOINER, ...flags }));
    const joinedAt = await registered;
    // Every moved client open again (on its new node, or on a stand-in after a failed connect), or the deadline:
    // clients still away then are counted, not waited for.
    const arrivals = Promise.all(clients.map((c) => c.next('arrived', ARRIVAL_DEADLINE_MS)));
    const timedOut = await arrivals.then(() => false, () => true);
    // Read before this script asks the agents for their topology itself.
    const topologyRequests = (await fleetCounter(agents, 'wsring_topology_requests_total')) - topologyBefore;

    if ((await fleetRing(agents, OLD_NODES.length + 1)).fingerprint !== ring4.fingerprint) throw new Error('the fleet settled on another ring than predicted');
    const oldAgents = agents.slice(0, OLD_NODES.length);
    const planned = await Promise.all(oldAgents.map((a) => a.waitForLog((l) => l.event === 'rebalance' && l.fingerprint === ring4.fingerprint)));
    const lastSent = await Promise.all(
      oldAgents.map((a, i) => (planned[i].moved > 0 ? a.waitForLog((l) => l.event === 'rebalance-sent' && l.epoch === planned[i].epoch) : undefined)),
    );
    await sleep(QUIET_MS);
    const { activity, finalNode, states, waitingFor } = await collect(clients);
    if (timedOut) console.log(`  ${waitingFor.length} moved clients not open again ${ARRIVAL_DEADLINE_MS / 1000} s after the join`);
    // Frames every agent (the joiner too) sent since the mark, and every ring the fleet planned for after the join.
    const framesSent = (await fleetCounter(agents, 'wsring_reconnects_sent_total')) - sentBefore;
    const graceCloses = (await fleetCounter(agents, 'wsring_grace_closes_total')) - graceBefore;
    const rings = new Set(agents.flatMap((a) => a.logs.filter((l) => l.event === 'rebalance' && l.time >= joinedAt).map((l) => l.fingerprint)));
    const summary = summarize(moved, activity, finalNode);
    const perAgentMoved = planned.map((l) => l.moved);
    return {
      ...summary,
      rate,
      connectMs: connected.connectMs,
      perAgentMoved,
      framesSent,
      graceCloses,
      topologyRequests,
      rings: rings.size,
      open: states.open ?? 0,
      notReopened: waitingFor.length,
      settleMs: Math.min(...planned.map((l) => l.time)) - joinedAt,
      lastSentMs: Math.max(...lastSent.map((l) => l?.time ?? 0)) - joinedAt,
      totalMs: summary.lastArrival - joinedAt,
      floorMs: SETTLE_MS + (Math.max(0, Math.max(...perAgentMoved) - pacing.burst) / rate) * 1000,
      listenOverflows: listenOverflows() - overflowsBefore,
      load: os.loadavg()[0],
    };
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await Promise.all(agents.map((a) => a.kill()));
    await membership?.close().catch(() => {});
    await nats.stop();
  }
}

const cpu = os.cpus();
console.log(`wsring rebalance benchmark: Node ${process.version}, ${process.arch}, ${cpu.length} x ${cpu[0]?.model.trim()}; load average ${os.loadavg()[0].toFixed(1)} at start`);
console.log("Everything runs on loopback in child processes sharing these cores: the figures include the machine's load.");

if (only !== 'memory') {
  const results = [];
  for (const rate of RATES) {
    if (!fits('rebalance', `the run at ${rate}/s`)) continue;
    const r = await runRebalance(rate);
    results.push(r);
    console.log(
      `  rate ${rate}/s per agent: ${fmtInt(USERS)} SDK clients connected in ${fmtSec(r.connectMs)}; join -> last moved client open ${fmtSec(r.totalMs)}; load average ${r.load.toFixed(1)}`,
    );
  }
  if (results.length) printRebalance(results, { users: USERS, joiner: JOINER, oldNodes: OLD_NODES.length, delivery: DELIVERY, sharedFetch: SHARED_FETCH, settleMs: SETTLE_MS, burst: pacing.burst, jitterMs: pacing.jitterMs });
  for (const r of results.filter((r) => r.touchedUnmoved > 0 || r.landed !== r.moved || r.open !== USERS)) {
    console.log(
      `\nWARNING rate ${r.rate}: ${r.touchedUnmoved} unmoved users touched, ${r.landed}/${r.moved} moved users on their new owner, ` +
        `${r.notReopened} not open again, ${r.open}/${USERS} clients open`,
    );
  }
}

if (only !== 'rebalance' && fits('memory', 'the memory comparison')) {
  const nats = await startNatsServer();
  const measured = [];
  try {
    for (const kind of SERVER_KINDS) measured.push(await measureMemory(kind, nats, MEMORY_CONNECTIONS, takeAddresses));
  } finally {
    await nats.stop();
  }
  printMemory(measured, MEMORY_CONNECTIONS);
}
clearTimeout(watchdog);
