// Picks the default points per unit of weight for the `ring` algorithm: balance against build cost, memory
// and lookup speed, swept over pointsPerWeight at 10, 100 and 1000 nodes of weight 1.
// Balance is measured two ways: exactly, as each node's share of the 2^32 hash space (median and worst over
// TOPOLOGIES node-id sets), and empirically, as keys per node over 1M fixed keys (first topology).
// Run: node --expose-gc bench/points.js [--quick]
import { createRing } from '@wsring/ring';
import { fmtBytes, fmtMs, fmtRate, makeKeys, median, nodeSpecs, opsPerSecond, printTable, retainedBytes, timeMs } from './lib.js';

const quick = process.argv.includes('--quick');
const SWEEP = quick ? [40, 160, 1000] : [40, 80, 120, 160, 240, 320, 500, 1000];
const NODE_COUNTS = [10, 100, 1000];
const TOPOLOGIES = quick ? 3 : 10;
const KEYS = quick ? 200_000 : 1_000_000;
const SPACE = 2 ** 32;

const keys = makeKeys(KEYS, 'short', 3);
const lookupKeys = keys.slice(0, 100_000);
// A node id that is in none of the topologies: diffing against a ring of it alone lists every range's owner.
const probe = await createRing([{ id: '~probe' }]);

/** Each node's share of the hash space, exactly, from the ranges diff() reports. */
function shares(ring) {
  const share = new Map(ring.nodes.map((n) => [n.id, 0]));
  for (const m of ring.diff(probe)) share.set(m.from, share.get(m.from) + (m.end - m.start) / SPACE);
  return [...share.values()];
}

function maxOverMean(xs) {
  return Math.max(...xs) / (xs.reduce((a, b) => a + b, 0) / xs.length);
}

function keyLoadMaxOverMean(ring) {
  const at = new Map(ring.nodes.map((n, i) => [n.id, i]));
  const counts = new Uint32Array(ring.nodes.length);
  for (const k of keys) counts[at.get(ring.owner(k))]++;
  return maxOverMean([...counts]);
}

const rows = [];
for (const nodes of NODE_COUNTS) {
  for (const pointsPerWeight of SWEEP) {
    const balance = [];
    for (let t = 0; t < TOPOLOGIES; t++) {
      const ring = await createRing(nodeSpecs(nodes, `t${t}-node`), { pointsPerWeight });
      balance.push(maxOverMean(shares(ring)));
    }
    const specs = nodeSpecs(nodes, 't0-node');
    const empty = await createRing([], { pointsPerWeight });
    const ring = empty.withNodes(specs);
    const grown = ring.withNodes([{ id: 't0-node-new' }]);
    const moved = ring.diff(grown).reduce((a, m) => a + (m.end - m.start), 0) / SPACE;
    const build = timeMs(() => empty.withNodes(specs), { rounds: 3 });
    // Several copies of small rings, so the measurement rises above the collector's noise.
    const copies = Math.max(1, Math.floor(200_000 / (nodes * pointsPerWeight)));
    const mem = retainedBytes(() => Array.from({ length: copies }, () => empty.withNodes(specs)));
    const lookups = opsPerSecond((k) => ring.owner(k), lookupKeys, { rounds: 5, roundMs: 40 });
    rows.push([
      String(nodes),
      String(pointsPerWeight),
      (nodes * pointsPerWeight).toLocaleString('en'),
      median(balance).toFixed(3),
      Math.max(...balance).toFixed(3),
      keyLoadMaxOverMean(ring).toFixed(3),
      (moved * (nodes + 1)).toFixed(2),
      fmtMs(build),
      fmtBytes((mem.heap + mem.buffers) / copies),
      fmtRate(lookups),
    ]);
  }
}
printTable(
  `ring: pointsPerWeight sweep (weights 1; share = exact fraction of the hash space; keys = ${KEYS.toLocaleString('en')} fixed keys)`,
  ['nodes', 'points/weight', 'points', `max/mean share (median of ${TOPOLOGIES})`, `worst of ${TOPOLOGIES}`, 'max/mean keys', 'moved on +1 / ideal', 'build', 'memory', 'owner()/s'],
  rows,
);
