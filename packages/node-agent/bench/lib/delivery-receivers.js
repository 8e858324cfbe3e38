// Receiving side of the delivery benchmark, in its own process. `kind: 'wsring'` holds @wsring/client instances
// (one per user, connected through the agents); `kind: 'floor'` holds one plain core-NATS subscription per user on
// the same nats-server. Both record publish-to-receive latency from the `t` stamped into each message (wall clock in
// microseconds, same machine), into one HDR histogram per phase, and for wsring also into `<phase>:<group>`: the
// bench gives each process one group of users, `stayed` (users the rebalance does not move) or `moved` (the ones it
// moves), so a user counts by who it is, whether its message came before, during or after its own move. Driven over IPC:
//   start { kind, users, group, raw, topologyKey?, bootstrap | nats, prefix }  -> ready (wsring: once every client is open)
//   phase { name }                            -> later messages count into histogram `name`
//   report                                    -> report { phases: { name: base64 HDR histogram }, loopDelays, moves, raw, received, open }
//   stop
import { createClient } from '@wsring/client';
import { connect } from '@nats-io/transport-node';
import * as hdr from 'hdr-histogram-js';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const histograms = new Map();
let current;
let currentName;
/** `stayed` or `moved`: the users this process holds (see `start`). */
let group;
/** Clients that moved node during the current phase (a `moved` event: welcomed by another node). */
let movedInPhase = new Set();
/** How many clients moved, per phase: in a `stayed` process it should be none. */
const moves = {};
let received = 0;
/** Every message of the phases named in `start { raw }`, as [publish time (wall ms), latency (µs), moved in phase (0/1)]: for the timeline of `--probe`. */
let rawPhases = new Set();
const raw = {};
const clients = [];
let nc;

function histogram(name) {
  if (!histograms.has(name)) histograms.set(name, hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 }));
  return histograms.get(name);
}

// How late this process's event loop runs, per phase: many clients share it, unlike browsers, so a burst of
// reconnecting clients delays the others' messages here.
const loopDelays = {};
let loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

function phase(name) {
  if (currentName !== undefined) loopDelays[currentName] = { p50: loop.percentile(50) / 1000, p99: loop.percentile(99) / 1000 };
  loop.disable();
  loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  current = histogram(name);
  currentName = name;
  movedInPhase = new Set();
  moves[name] = 0;
}
phase('warmup');

function record(t, client) {
  received++;
  if (typeof t !== 'number') return;
  const micros = Math.max(1, nowMicros() - t);
  current.recordValue(micros);
  if (rawPhases.has(currentName)) (raw[currentName] ??= []).push([Math.round(t / 1000), micros, client && movedInPhase.has(client) ? 1 : 0]);
  if (client) histogram(`${currentName}:${group}`).recordValue(micros);
}

async function start(m) {
  rawPhases = new Set(m.raw ?? []);
  group = m.group ?? 'stayed';
  if (m.kind === 'floor') {
    nc = await connect({ servers: m.nats });
    const decoder = new TextDecoder();
    for (const user of m.users) nc.subscribe(`${m.prefix}.${user}`, { callback: (_err, msg) => record(JSON.parse(decoder.decode(msg.data)).t) });
    await nc.flush();
    process.send({ type: 'ready' });
    return;
  }
  for (const user of m.users) {
    const client = createClient({ user, bootstrap: m.bootstrap, backoff: { baseMs: 100, capMs: 1_000 }, ...(m.topologyKey ? { topologyKey: m.topologyKey } : {}) });
    client.on('message', (data) => record(data?.t, client));
    client.on('moved', () => {
      if (!movedInPhase.has(client)) moves[currentName]++;
      movedInPhase.add(client);
    });
    clients.push(client);
  }
  const waitOpen = () => (clients.every((c) => c.state === 'open') ? process.send({ type: 'ready' }) : setTimeout(waitOpen, 50));
  waitOpen();
}

process.on('message', (m) => {
  if (m.type === 'start') start(m).catch((err) => process.send({ type: 'failed', error: String(err) }));
  else if (m.type === 'phase') phase(m.name);
  else if (m.type === 'report') {
    const phases = {};
    // Encoded, so the parent can merge the histograms of several receiver processes exactly.
    for (const [name, h] of histograms) phases[name] = hdr.encodeIntoCompressedBase64(h);
    process.send({ type: 'report', group, phases, loopDelays, moves, raw, received, open: clients.filter((c) => c.state === 'open').length });
  } else if (m.type === 'stop') {
    for (const c of clients) c.close();
    void (nc ? nc.close() : Promise.resolve()).finally(() => setTimeout(() => process.exit(0), 50));
  }
});
process.on('disconnect', () => process.exit(0));
