// Prints the balance and Maglev disruption figures quoted in docs/placement.md, at the default settings, from
// fixed seeds (node test/ring/figures.mjs). The property tests enforce the bounds; this shows the margins.
import { createRing } from '@wsring/ring';

const SPACE = 2 ** 32;
let state = 20261125;
/** A small fixed-seed generator, so every run measures the same topologies. */
const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / SPACE);
const fleet = (n, weight) => Array.from({ length: n }, (_, i) => ({ id: `node-${Math.floor(random() * 1e9).toString(36)}-${i}`, weight: weight() }));
const equal = () => 1;
const varied = () => 0.5 + random() * 3.5;

/** Exact share of the hash space per node (ring, maglev), or of `keys` (rendezvous). */
async function shares(ring, keys) {
  const share = new Map(ring.nodes.map((n) => [n.id, 0]));
  if (ring.algorithm === 'rendezvous') {
    for (const k of keys) share.set(ring.owner(k), share.get(ring.owner(k)) + 1 / keys.length);
  } else {
    const outsider = await createRing([{ id: 'outsider' }], { seed: ring.seed });
    for (const m of ring.diff(outsider)) share.set(m.from, share.get(m.from) + (m.end - m.start) / SPACE);
  }
  return share;
}

const f = (x, d = 3) => x.toFixed(d);
const keys = Array.from({ length: 200_000 }, (_, i) => `user-${i}`);
const TRIALS = { ring: 20, maglev: 20, rendezvous: 3 };

console.log('Balance at equal weights (max/mean and min/mean of load; worst and average over the trials)');
console.log('and weight-share deviation |share / (w / W) - 1| with weights uniform in [0.5, 4]:');
for (const algorithm of ['ring', 'maglev', 'rendezvous']) {
  for (const n of [10, 100, 200]) {
    let maxWorst = 0, maxSum = 0, minWorst = Infinity, devWorst = 0, devSum = 0, devCount = 0;
    for (let t = 0; t < TRIALS[algorithm]; t++) {
      const s = [...(await shares(await createRing(fleet(n, equal), { algorithm, seed: t }), keys)).values()];
      maxWorst = Math.max(maxWorst, Math.max(...s) * n);
      maxSum += Math.max(...s) * n;
      minWorst = Math.min(minWorst, Math.min(...s) * n);
      const nodes = fleet(n, varied);
      const total = nodes.reduce((w, x) => w + x.weight, 0);
      const ws = await shares(await createRing(nodes, { algorithm, seed: t }), keys);
      for (const x of nodes) {
        const d = Math.abs(ws.get(x.id) / (x.weight / total) - 1);
        devWorst = Math.max(devWorst, d);
        devSum += d;
        devCount++;
      }
    }
    const basis = algorithm === 'rendezvous' ? `${keys.length} keys` : 'exact hash space';
    console.log(`  ${algorithm.padEnd(10)} ${String(n).padStart(3)} nodes: max/mean ${f(maxWorst)} (avg ${f(maxSum / TRIALS[algorithm])}), min/mean ${f(minWorst)}; weight deviation worst ${f(devWorst)}, mean ${f(devSum / devCount, 4)}  [${TRIALS[algorithm]} trials, ${basis}]`);
  }
}

console.log('\nMaglev disruption at the default table size: fraction of the hash space moved when one node joins or');
console.log('leaves, against the minimum (the joining or leaving node\'s share); collateral = moved - minimum:');
for (const n of [2, 10, 50, 100, 200, 500, 1000]) {
  for (const [label, weight] of [['equal', equal], ['weights 0.5..4', varied]]) {
    let ratioWorst = 0, ratioSum = 0, collWorst = 0, collSum = 0, runs = 0;
    const trials = n > 200 ? 3 : 10;
    for (let t = 0; t < trials; t++) {
      const nodes = fleet(n, weight);
      const small = await createRing(nodes.slice(1), { algorithm: 'maglev', seed: t });
      const large = small.withNodes([nodes[0]]);
      for (const [a, b] of [[small, large], [large, small]]) {
        let moved = 0, minimum = 0;
        for (const m of a.diff(b)) {
          moved += m.end - m.start;
          if (m.from === nodes[0].id || m.to === nodes[0].id) minimum += m.end - m.start;
        }
        ratioWorst = Math.max(ratioWorst, moved / minimum);
        ratioSum += moved / minimum;
        collWorst = Math.max(collWorst, (moved - minimum) / SPACE);
        collSum += (moved - minimum) / SPACE;
        runs++;
      }
    }
    console.log(`  ${String(n).padStart(4)} nodes, ${label.padEnd(14)}: moved/minimum avg ${f(ratioSum / runs, 2)} worst ${f(ratioWorst, 2)}; collateral avg ${f((100 * collSum) / runs, 2)}% worst ${f(100 * collWorst, 2)}% of keys`);
  }
}
