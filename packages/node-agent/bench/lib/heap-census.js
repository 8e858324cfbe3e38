// Where the heap of idle connections goes: a server process (memory-server.js) writes a heap snapshot with no
// connections and one with N held; this diffs them by node type and constructor name (count and self size per
// connection). Used to find the bytes behind bench/memory.js's figures:
//   node --expose-gc bench/lib/heap-census.js agent|agent-no-delivery|bare [N]
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer } from '@wsring/node-agent/testing';
import { forkChild } from './rebalance-ipc.js';

const [kind = 'agent', n = '5000'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const N = Number(n);
const SERVER = fileURLToPath(new URL('./memory-server.js', import.meta.url));
const HOLDERS = fileURLToPath(new URL('./rebalance-holders.js', import.meta.url));

const RETAINERS = process.argv.includes('--retainers');

/** Node ids of a snapshot (V8 keeps an object's id across snapshots of one process). */
function ids(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const width = snap.snapshot.meta.node_fields.length;
  const at = snap.snapshot.meta.node_fields.indexOf('id');
  const out = new Set();
  for (let i = 0; i < snap.nodes.length; i += width) out.add(snap.nodes[i + at]);
  return out;
}

/**
 * With --retainers: the objects new in `file` (ids not in `old`), by `type:name <- retainer type:name.edge`,
 * so each byte is named by what holds it.
 */
function retainers(file, old) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const f = meta.node_fields;
  const ef = meta.edge_fields;
  const types = meta.node_types[0];
  const etypes = meta.edge_types[0];
  const width = f.length;
  const ew = ef.length;
  const [ti, ni, si, ii, eci] = ['type', 'name', 'self_size', 'id', 'edge_count'].map((k) => f.indexOf(k));
  const [eti, eni, eto] = ['type', 'name_or_index', 'to_node'].map((k) => ef.indexOf(k));
  const label = (n) => {
    const type = types[snap.nodes[n + ti]];
    const name = type === 'string' || type === 'number' || type === 'concatenated string' || type === 'sliced string' ? '' : String(snap.strings[snap.nodes[n + ni]]).slice(0, 50);
    return `${type}:${name}`;
  };
  const owner = new Map();
  let e = 0;
  for (let n = 0; n < snap.nodes.length; n += width) {
    const count = snap.nodes[n + eci];
    for (let k = 0; k < count; k++, e += ew) {
      const et = etypes[snap.edges[e + eti]];
      if (et === 'weak' || et === 'shortcut') continue;
      const to = snap.edges[e + eto];
      if (owner.has(to)) continue;
      const en = et === 'element' || et === 'hidden' ? `[${et}]` : String(snap.strings[snap.edges[e + eni]]).slice(0, 30);
      owner.set(to, { n, text: `${label(n)}.${en}` });
    }
  }
  const out = new Map();
  for (let n = 0; n < snap.nodes.length; n += width) {
    if (old.has(snap.nodes[n + ii])) continue;
    // Two levels up: an array's elements are named by what holds the array.
    const up = owner.get(n);
    const up2 = up && (label(n).startsWith('array:') || label(up.n).startsWith('object:Array') || label(up.n).startsWith('object:system / Context')) ? owner.get(up.n) : undefined;
    const key = `${label(n)}  <-  ${up?.text ?? '?'}${up2 ? `  <-  ${up2.text}` : ''}`;
    const r = out.get(key) ?? { count: 0, size: 0 };
    r.count++;
    r.size += snap.nodes[n + si];
    out.set(key, r);
  }
  return out;
}

/** Self size and count per `type:name` of a V8 heap snapshot. */
function census(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = f.length;
  const [ti, ni, si] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  const out = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + ti]];
    let name = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' || type === 'array' ? snap.strings[snap.nodes[i + ni]] : '';
    if (name.length > 60) name = name.slice(0, 60);
    const key = `${type}:${name}`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += snap.nodes[i + si];
    out.set(key, e);
  }
  return out;
}

const nats = await startNatsServer();
const server = forkChild(SERVER, [kind, nats.url, String(N + 100), `census-${kind}`], { execArgv: ['--expose-gc'], name: 'server' });
try {
  const { url } = await server.next('listening', 60_000);
  const snapshot = async () => {
    const file = join(tmpdir(), `census-${kind}-${Date.now()}.heapsnapshot`);
    server.send({ type: 'snapshot', file });
    await server.next('snapshot', 300_000);
    return file;
  };
  // warm up with a few connections, then measure
  const warm = forkChild(HOLDERS, [], { name: 'warm' });
  warm.send({ type: 'hold', url, users: Array.from({ length: 100 }, (_, i) => `w-${i}`), localAddress: '127.0.0.2', awaitFrame: kind !== 'bare' });
  await warm.next('holding', 60_000);
  await warm.stop();
  await new Promise((r) => setTimeout(r, 1_000));
  const before = await snapshot();
  const holders = forkChild(HOLDERS, [], { name: 'holders' });
  holders.send({ type: 'hold', url, users: Array.from({ length: N }, (_, i) => `user-${i}`), localAddress: '127.0.0.3', awaitFrame: kind !== 'bare' });
  const held = await holders.next('holding', 300_000);
  await new Promise((r) => setTimeout(r, 2_000));
  const after = await snapshot();
  if (RETAINERS) {
    const fresh = retainers(after, ids(before));
    const rows = [...fresh].map(([k, r]) => [k, r.count / N, r.size / N]).filter((r) => r[2] >= 4).sort((x, y) => y[2] - x[2]);
    console.log(`${kind}: objects new with ${held.open} connections, by retainer (per connection)`);
    for (const r of rows) console.log(`${r[2].toFixed(1).padStart(8)} B  ${r[1].toFixed(2).padStart(6)} x  ${r[0]}`);
  }
  const a = census(before);
  const b = census(after);
  rmSync(before);
  rmSync(after);
  const rows = [];
  let total = 0;
  for (const [key, e] of b) {
    const o = a.get(key) ?? { count: 0, size: 0 };
    const size = (e.size - o.size) / N;
    total += size;
    if (Math.abs(size) >= 4) rows.push([key, ((e.count - o.count) / N).toFixed(2), size.toFixed(1)]);
  }
  rows.sort((x, y) => Number(y[2]) - Number(x[2]));
  console.log(`${kind}: ${held.open} connections, heap self size per connection ${total.toFixed(0)} B`);
  for (const r of rows) console.log(`${r[2].padStart(8)} B  ${r[1].padStart(6)} x  ${r[0]}`);
  await holders.stop();
} finally {
  await server.stop();
  await nats.stop();
}
