// Movement benchmark (issue 9): 40,000 real @wsring/client instances in 8 client processes of 5,000, each process on
// its own local address (127.0.0.2-9), against wsring-agent processes on one nats-server, all at the agents'
// defaults (accept rate 1,000/s, sender ceiling 1,000/s, drain deadline 30 s; capacity raised so 4 nodes hold 40,000).
//  1. a drain of the fullest of 4 nodes (about 10,000 users);  2. its return (3 -> 4);  3. scale out 4 -> 6;
//  4. a handoff deploy of every node, one after another.
// Per change (see lib/movement-analysis.js): reconnect frames against the movedKeys minimum; users moved more than
// once; per receiver the peak of frames naming it in any one-second window (the pace the senders kept, which the
// receiver budget bounds) and of arrivals there (opens at the clients, which client-side latency can bunch), with
// the latency from frame to open; time from the first frame to the last arrival against the best the budgets
// allow (max of M(R)/A over receivers and sent/ceiling over senders); and the same change in wsring-sim beside it.
// The fleet signs its topologies (--topology-key-file; the clients get its public key), as docs/security.md advises:
// a client follows a handoff frame at once instead of asking its bootstrap URLs to confirm it. The clients bootstrap
// from one stable address (a small proxy here, standing in for a DNS name or load balancer) that forwards /topology
// to a live agent: the agents' own URLs all change during the handoff deploy.
// "Moved twice" counts users that, within one change (in the deploy, one node's handoff, from its SIGTERM to the
// next node's), got more than one reconnect frame or opened more than once; of those, how many failed over.
// Flags: --quick (8,000 users in 2 processes), --users=N, --accept-rate=N (every node's; default the agents' 1,000/s),
// --admission-wait-ms=N (every node's admission gate; 0 turns it off), --warmup-ms=N (every node's warm-up; 0: none),
// --unsigned (no fleet key: clients confirm moves by fetch).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { movedKeys } from '@wsring/ring';
import { DEFAULTS, generateTopologyKeyPair } from '@wsring/node-agent';
import { spawnAgent, startNatsServer } from '@wsring/node-agent/testing';
import { forkChild } from './lib/rebalance-ipc.js';
import { fleetCounter, fleetRing, listenOverflows, watchArrivalPeaks } from './lib/rebalance-fleet.js';
import { changeFigures } from './lib/movement-analysis.js';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const signed = !process.argv.includes('--unsigned');
const USERS = Number(arg('users') ?? (quick ? 8_000 : 40_000));
const PROCESSES = Math.max(1, Math.ceil(USERS / 5_000));
// Every node's accept rate: the agents' default unless --accept-rate=N (see the note on this machine's limits in the README).
const ACCEPT = Number(arg('accept-rate') ?? DEFAULTS.acceptRate);
const CEILING = DEFAULTS.pacing.ratePerSec;
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

/** Until every client is open on its owner under `ring` (the change is over), or `ms`. Returns how many are not. */
async function onOwners(clients, ring, ms) {
  const until = Date.now() + ms;
  for (;;) {
    const snapshot = ring.toJSON();
    for (const c of clients) c.send({ type: 'offOwners', ring: snapshot });
    const off = (await Promise.all(clients.map((c) => c.next('offOwners')))).reduce((sum, r) => sum + r.off, 0);
    if (off === 0 || Date.now() > until) return off;
    await sleep(500);
  }
}

/**
 * Until no agent has accepted a connection for ten seconds (every /healthz arrivals.peakPerSec is 0), or `ms`: the
 * peaks the agents report for the next change are then its own, not the tail of the one before.
 */
async function quiet(list, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    const peaks = await Promise.all(list().map((a) => fetch(`${a.httpUrl}/healthz`).then((r) => r.json()).then((h) => h.arrivals?.peakPerSec ?? 0, () => 0)));
    if (peaks.every((p) => p === 0) || Date.now() > until) return;
    await sleep(1_000);
  }
}

/** Each user's node now (its sender in the change that follows). */
async function snapshot(clients) {
  const { nodes } = await collect(clients);
  return new Map([...nodes].filter(([, n]) => n !== undefined));
}

const secs = (ms) => (ms / 1000).toFixed(1);

function print(rows) {
  console.log(`\nper change (accept rate ${fmt(ACCEPT)}/s at every node, sender ceiling ${fmt(CEILING)}/s; bound per receiver and second: A x (1 s + 50 ms) + its senders)`);
  console.log('  frames: reconnect frames naming a receiver, at the time each lets its user go (received at the client + delayMs): the senders\' pace');
  console.log('  arrivals, agent: the receiving agent\'s own count of accepted connections (/healthz arrivals.peakPerSec, 100 ms buckets)');
  console.log('  gate overflows: users the receivers\' admission gates let through past --admission-wait-ms, above the accept rate');
  console.log('  arrivals, clients: opens as the client processes timestamped them (their event loops can bunch them)');
  console.log('change                     frames / movedKeys min  moved twice (reopened, failovers)  peak frames/s (bound)  peak arrivals/s agent | clients  settle / expected  listen overflows  gate overflows');
  for (const r of rows) {
    const f = r.framesPeak;
    const a = r.peak;
    const agentPeak = Math.max(0, ...r.receivers.filter((x) => x.users >= 50).map((x) => r.agentPeaks?.get(x.node) ?? 0));
    console.log(
      `${r.name.padEnd(26)} ${`${fmt(r.frames)} / ${fmt(r.minimum)} = ${(r.frames / Math.max(1, r.minimum)).toFixed(3)}`.padStart(23)}  ${`${r.twice} (${r.reopened}, ${r.failovers})`.padStart(33)}  ${(f ? `${fmt(f.framesPeak)} at ${f.node} (${fmt(f.bound)})` : '-').padStart(21)}  ${`${fmt(agentPeak)} | ${a ? `${fmt(a.arrivalsPeak)} at ${a.node}` : '-'}`.padStart(31)}  ${secs(r.settleMs)} s / ${secs(r.expectedMs)} s = ${(r.settleMs / Math.max(1, r.expectedMs)).toFixed(2)}x  ${fmt(r.overflows).padStart(16)}  ${fmt(r.agentPeaks?.gateOverflows ?? NaN).padStart(14)}`,
    );
  }
  console.log('\nper receiver: users; peak frames/s (bound, senders); peak arrivals/s agent | clients; latency frame -> open p50/p99 (of it: frame -> new socket at the client, handshake -> welcome at the node); settle from the change\'s first frame (M/A)');
  for (const r of rows) {
    for (const x of r.receivers) {
      if (x.users < 50) continue;
      console.log(`  ${r.name.padEnd(26)} ${x.node.padEnd(7)} ${fmt(x.users).padStart(6)} users  frames ${fmt(x.framesPeak).padStart(5)}/s (${fmt(x.bound)}, ${x.senders})  arrivals ${fmt(r.agentPeaks?.get(x.node) ?? NaN).padStart(5)} | ${fmt(x.arrivalsPeak).padStart(5)}/s  latency ${fmt(x.latencyP50)}/${fmt(x.latencyP99)} ms (client ${fmt(x.decideP50)}/${fmt(x.decideP99)}, admission ${fmt(x.admissionP50)}/${fmt(x.admissionP99)})  settle ${secs(x.settleMs)} s (M/A ${secs((x.users / ACCEPT) * 1000)} s)`);
    }
  }
}

/**
 * The same change in wsring-sim (its storm model: the agents' ring, planner split, pacer and defaults). The simulator
 * depends on this package, so it is not a declared dependency here (that would be a cycle); the workspace has it.
 * acceptPerSec (what a node can physically take, in the model) is set far above the accept rate: the real agents
 * here take what arrives, so the model should not refuse anyone either. The bench's --warmup-ms, --admission-wait-ms and
 * --burst go to the model too.
 */
async function predictor() {
  try {
    const { predictMovement } = await import('@wsring/sim');
    const same = { ...(arg('warmup-ms') ? { warmupMs: Number(arg('warmup-ms')) } : {}), ...(arg('admission-wait-ms') ? { admissionWaitMs: Number(arg('admission-wait-ms')) } : {}), ...(arg('burst') ? { burst: Number(arg('burst')) } : {}) };
    return (nodes, steps) => predictMovement({ nodes, users, steps, params: { acceptRate: ACCEPT, ratePerSec: CEILING, acceptPerSec: 1_000_000, ...same } }).then((p) => p.steps);
  } catch (error) {
    console.log(`  (wsring-sim not available: ${error.message}; build it with npm run build to see its predictions beside the run)`);
    return undefined;
  }
}

/** Real against predicted: peak arrivals at one receiver (the agents' own count) and time from first frame to last arrival. */
function printSim(rows) {
  const compared = rows.filter((r) => r.sim);
  if (compared.length === 0) return;
  const pct = (real, sim) => (sim > 0 ? `${real >= sim ? '+' : ''}${Math.round((100 * (real - sim)) / sim)}%` : '-');
  console.log('\nthe same changes in wsring-sim (storm model, agents\' defaults): real against predicted');
  console.log('change                     peak arrivals/s at one receiver: real (agent) | sim  (diff)    settle, first frame to last arrival: real | sim  (diff)');
  for (const r of compared) {
    const real = Math.max(0, ...r.receivers.filter((x) => x.users >= 50).map((x) => r.agentPeaks?.get(x.node) ?? 0));
    // The model's own count of what each receiver's gate admitted, over sliding one-second windows as the agent
    // counts (its attempts per whole second of the model's clock can split a peak in two); without a gate, attempts.
    const sim = Math.max(0, ...r.sim.receivers.map((x) => x.gate?.peakAdmittedPerSec ?? x.peakArrivalsPerSec));
    const simSettle = r.sim.settleMs ?? 0;
    console.log(`${r.name.padEnd(26)} ${`${fmt(real)} | ${fmt(sim)}`.padStart(40)}  (${pct(real, sim).padStart(5)})    ${`${secs(r.settleMs)} s | ${secs(simSettle)} s`.padStart(38)}  (${pct(r.settleMs, simSettle).padStart(5)})`);
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
  const flags = { nats: nats.url, capacity: USERS, acceptRate: ACCEPT, logLevel: 'info', noDelivery: true, ...(keyFile ? { topologyKeyFile: keyFile } : {}), ...(arg('admission-wait-ms') ? { admissionWaitMs: Number(arg('admission-wait-ms')) } : {}), ...(arg('warmup-ms') ? { warmupMs: Number(arg('warmup-ms')) } : {}), ...(arg('burst') ? { burst: Number(arg('burst')) } : {}) };
  for (const id of ['node-1', 'node-2', 'node-3', 'node-4']) agents.set(id, await spawnAgent({ id, ...flags }));
  let ring = await fleetRing([...agents.values()], 4);
  clients = shares.map((_, i) => forkChild(CLIENTS_FILE, [], { name: `clients-${i}` }));
  const bootstrap = [bootstrapProxy.url];
  const connectStart = Date.now();
  clients.forEach((c, i) => c.send({ type: 'start', users: shares[i], bootstrap, localAddress: `127.0.0.${2 + i}`, sharedFetch: true, topologyKey: fleetKey?.publicKey }));
  await Promise.all(clients.map((c) => c.next('connected', 300_000)));
  console.log(`  ${fmt(USERS)} clients connected in ${((Date.now() - connectStart) / 1000).toFixed(1)} s; load average ${os.loadavg()[0].toFixed(1)}`);
  const figuresOf = (o) => ({ ...changeFigures({ accept: ACCEPT, ceiling: CEILING, ...o }), overflows: o.overflows ?? overflows() });
  const predict = await predictor();
  const simOf = async (nodes, steps) => (predict ? predict(nodes, steps) : []);
  // Agents polled for their own arrival peaks: the fleet, plus a successor while it takes over.
  const extra = new Set();
  const fleet = () => [...agents.values(), ...extra];
  // Connections the kernel dropped because a listen queue was full (machine-wide), per change: a client whose
  // handshake is dropped retries its SYN after 1 s, then 3 s, which shows as latency in steps of seconds.
  let overflowsAt = listenOverflows();
  const watch = () => {
    overflowsAt = listenOverflows();
    return watchArrivalPeaks(fleet);
  };
  const overflows = () => listenOverflows() - overflowsAt;

  // 1. A drain at the defaults of the fullest node (about 10,000 users at 40,000 over 4 nodes).
  {
    const before = await snapshot(clients);
    const count = new Map();
    for (const n of before.values()) count.set(n, (count.get(n) ?? 0) + 1);
    const [id, held] = [...count].sort((a, b) => b[1] - a[1])[0];
    const next = ring.withoutNodes([id]);
    const ringIds = [...agents.keys()].filter((n) => n !== id);
    const minimum = movedKeys(ring, next, users).length;
    await quiet(fleet);
    await mark(clients);
    const peaks = watch();
    const startedAt = Date.now();
    const draining = agents.get(id);
    agents.delete(id);
    await draining.stop(90_000);
    ring = next;
    const sized = draining.logs.find((l) => l.msg === 'drain sized' || String(l.msg).startsWith('drain deadline too short'));
    const exit = draining.logs.find((l) => l.event === 'exit');
    console.log(`  drain of ${id} holding ${fmt(held)}: computed ${fmt(sized?.expectedMs ?? NaN)} ms against a deadline of ${fmt(sized?.deadlineMs ?? NaN)} ms, took ${fmt(exit ? exit.time - startedAt : NaN)} ms to exit, ${exit?.remaining ?? '?'} left at the deadline`);
    const away = await onOwners(clients, ring, 120_000);
    await sleep(1_500);
    const { activity } = await collect(clients);
    rows.push({ ...figuresOf({ name: `drain ${id} (${fmt(held)})`, activity, before, from: startedAt, minimum }), agentPeaks: await peaks.stop(), sim: (await simOf([...ringIds, id].sort(), [{ kind: 'drain', ids: [id] }]))[0] });
    console.log(`  drain done (${away} clients not on their owner)`);

    // 2. The drained node comes back (3 -> 4): every other node sends to it at once, each at its share of its budget.
    const returning = await snapshot(clients);
    const back = ring.withNodes([{ id }]);
    const backMinimum = movedKeys(ring, back, users).length;
    await quiet(fleet);
    await mark(clients);
    const backPeaks = watch();
    const returnedAt = Date.now();
    agents.set(id, await spawnAgent({ id, ...flags }));
    ring = await fleetRing([...agents.values()], 4, 60_000);
    const awayBack = await onOwners(clients, ring, 120_000);
    await sleep(1_500);
    const returned = await collect(clients);
    rows.push({ ...figuresOf({ name: `return of ${id} (3 -> 4)`, activity: returned.activity, before: returning, from: returnedAt, minimum: backMinimum }), agentPeaks: await backPeaks.stop(), sim: (await simOf(ringIds, [{ kind: 'add', nodes: [{ id, weight: 1 }] }]))[0] });
    console.log(`  return done (${awayBack} clients not on their owner)`);
  }

  // 3. Scale out 4 -> 6.
  {
    const before = await snapshot(clients);
    const next = ring.withNodes([{ id: 'node-5' }, { id: 'node-6' }]);
    const minimum = movedKeys(ring, next, users).length;
    await quiet(fleet);
    const fetchesBefore = await fleetCounter([...agents.values()], 'wsring_topology_requests_total');
    await mark(clients);
    const peaks = watch();
    const startedAt = Date.now();
    // Both joiners at once: one change (a second join a settle window later would be a second change, moving some twice).
    const joined = await Promise.all(['node-5', 'node-6'].map((id) => spawnAgent({ id, ...flags })));
    joined.forEach((a, i) => agents.set(`node-${5 + i}`, a));
    ring = await fleetRing([...agents.values()], 6, 60_000);
    const away = await onOwners(clients, ring, 120_000);
    await sleep(1_500);
    const { activity } = await collect(clients);
    rows.push({ ...figuresOf({ name: 'scale out 4 -> 6', activity, before, from: startedAt, minimum }), agentPeaks: await peaks.stop(), sim: (await simOf(['node-1', 'node-2', 'node-3', 'node-4'], [{ kind: 'add', nodes: [{ id: 'node-5', weight: 1 }, { id: 'node-6', weight: 1 }] }]))[0] });
    console.log(`  scale out done (${away} clients not on their owner; ${fmt((await fleetCounter([...agents.values()], 'wsring_topology_requests_total')) - fetchesBefore)} /topology requests during it)`);
  }

  // 4. A handoff deploy of every node: a successor under the same id on another port, then SIGTERM to the old one.
  // Each node's handoff is one change, measured from its own SIGTERM to the next one's.
  {
    const before = await snapshot(clients);
    await mark(clients);
    const handoffs = [];
    for (const id of [...agents.keys()].sort()) {
      const old = agents.get(id);
      await quiet(fleet);
      const { nodes } = await collect(clients);
      const held = [...nodes.values()].filter((n) => n === id).length;
      // SIGTERM once the successor waits, as a deploy would. The old process sends its first frame a settle window
      // later (once its ring names the successor's URL): the simulator's successor likewise serves DEFAULTS.settleMs
      // before the first frame, still warming up when the users come.
      const successor = await spawnAgent({ id, ...flags });
      await successor.waitForLog((l) => String(l.msg).includes('waiting as its successor'), 30_000);
      extra.add(successor);
      const peaks = watch();
      const startedAt = Date.now();
      await old.stop(90_000);
      // The successor's peak covers the ten seconds before each poll: poll it once the last user has arrived.
      await onOwners(clients, ring, 120_000);
      await sleep(1_500);
      const agentPeaks = await peaks.stop();
      const dropped = overflows();
      extra.delete(successor);
      const exit = old.logs.find((l) => l.event === 'exit');
      console.log(`  ${id}: held ${fmt(held)}, handed ${fmt(exit?.handedOff ?? 0)} users over in ${fmt(Date.now() - startedAt)} ms to exit, ${exit?.remaining ?? '?'} left at the deadline`);
      agents.set(id, successor);
      handoffs.push({ id, held, startedAt, agentPeaks, dropped });
    }
    const away = await allOpen(clients, 60_000);
    await sleep(1_500);
    const { activity } = await collect(clients);
    const order = handoffs.map((h) => h.id);
    const predicted = await simOf(order, [{ kind: 'rolling-deploy', strategy: 'handoff', ids: order }]);
    const deploy = handoffs.map((h, i) => ({ ...figuresOf({ name: `handoff ${h.id} (${fmt(h.held)})`, activity, before, from: h.startedAt, to: handoffs[i + 1]?.startedAt ?? Infinity, minimum: h.held, overflows: h.dropped }), agentPeaks: h.agentPeaks, sim: predicted.find((p) => p.deploy?.node === h.id) }));
    rows.push(...deploy);
    const anyTwice = [...activity.values()].filter((a) => a.opens.length > 1).length;
    const frames = deploy.reduce((n, r) => n + r.frames, 0);
    const twice = deploy.reduce((n, r) => n + r.twice, 0);
    console.log(`  handoff deploy done (${away} clients not open; frames ${fmt(frames)} for ${fmt(USERS)} users; ${twice} moved twice within a handoff; ${anyTwice} users opened more than once over the whole deploy, across changes)`);
  }

  print(rows);
  printSim(rows);
  console.log(`\nload average ${os.loadavg()[0].toFixed(1)} at the end`);
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
