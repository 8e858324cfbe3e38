// npm run bench: @wsring/ring against named peers and against the cost of hashing the key, in one run.
// Run with --expose-gc (the npm script does) to get memory figures.
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import xxhash from 'xxhash-wasm';
import HashRingPeer from 'hashring';
import ConsistentHashPeer from 'consistent-hash';
import { createKeyIndex, createRing, movedKeys } from '@wsring/ring';
import {
  compareOps, compareTimes, fmtBytes, fmtMs, fmtRate, fmtRatio, makeKeys, nodeSpecs, printTable, retainedBytes, timeMs,
} from './lib.js';

const ALGORITHMS = ['ring', 'maglev', 'rendezvous'];
const NODE_COUNTS = [10, 100, 1000];
const LOOKUP_KEYS = 100_000;
const INDEX_KEYS = 1_000_000;
const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7); // lookups | index | build
const run = (section) => !only || only === section;
const timing = quick ? { rounds: 5, roundMs: 20 } : { rounds: 15, roundMs: 25 };

const { h32 } = await xxhash();

console.log(`@wsring/ring benchmarks: Node ${process.version}, ${cpus()[0]?.model ?? process.arch} x ${cpus().length}, load average ${loadavg()[0].toFixed(1)}`);
console.log(`Lookups: medians of ${timing.rounds} interleaved rounds after a warm-up; ratios are medians of per-round ratios.`);
console.log(`hashring ${peerVersion('hashring')} (md5, 40 vnodes x 4 replicas = 160 points per node, LRU cache of 5000 keys: keys cycle`);
console.log(`through ${LOOKUP_KEYS.toLocaleString('en')} so it misses), consistent-hash ${peerVersion('consistent-hash')} (24-bit PJW hash, 40 points per node).`);

function peerVersion(name) {
  return createRequire(import.meta.url)(`${name}/package.json`).version;
}

// 1. owner() lookups per second. Two floors: xxhash-wasm's h32 (the hash function as a library call), and
// hashKey(), the same xxh32 as the ring computes it (inline for short ASCII keys). A lookup costs at least hashKey().
if (run('lookups')) for (const [shape, label] of [['short', 'short ids like user-4242 (~10 chars)'], ['uuid', 'UUIDs (36 chars)']]) {
  const keys = makeKeys(LOOKUP_KEYS, shape);
  const single = await createRing(nodeSpecs(1));
  const rows = [];
  for (const n of NODE_COUNTS) {
    const specs = nodeSpecs(n);
    const servers = specs.map((s) => s.id);
    const hr = new HashRingPeer(servers);
    const ch = new ConsistentHashPeer();
    for (const s of servers) ch.add(s);
    const contenders = [
      ['xxhash-wasm h32()', (k) => h32(k, 0)],
      ['@wsring/ring hashKey()', (k) => single.hashKey(k)],
    ];
    for (const algorithm of ALGORITHMS) {
      const ring = await createRing(specs, { algorithm });
      contenders.push([`@wsring/ring ${algorithm}`, (k) => ring.owner(k)]);
    }
    contenders.push(['hashring get()', (k) => hr.get(k)], ['consistent-hash get()', (k) => ch.get(k)]);
    const HASHRING = contenders.length - 2;
    const { ops, ratio } = compareOps(contenders.map((c) => c[1]), keys, timing);
    contenders.forEach(([name], i) => {
      // The floors are measured with every group (for the ratios) and printed with the first.
      if (i < 2 && n !== NODE_COUNTS[0]) return;
      rows.push([name, i < 2 ? '-' : String(n), fmtRate(ops[i]), fmtRatio(ratio(i, 0)), fmtRatio(ratio(i, 1)), i < 2 ? '' : fmtRatio(ratio(i, HASHRING))]);
    });
  }
  printTable(`owner() lookups per second, ${LOOKUP_KEYS.toLocaleString('en')} ${label}`, ['', 'nodes', 'lookups/s', 'vs h32', 'vs hashKey', 'vs hashring'], rows);
}

// 2. index.moved against a full scan: +1 node on 10 nodes, 1M indexed keys.
if (run('index')) {
  const keys = makeKeys(INDEX_KEYS, 'short', 2);
  const index = await createKeyIndex(keys);
  const rows = [];
  for (const algorithm of ALGORITHMS) {
    const prev = await createRing(nodeSpecs(10), { algorithm });
    const next = prev.withNodes([{ id: 'node-10' }]);
    const viaIndex = index.moved(prev, next).length;
    const viaScan = movedKeys(prev, next, index.keys()).length;
    if (viaIndex !== viaScan) throw new Error(`${algorithm}: index.moved found ${viaIndex} keys, the scan ${viaScan}`);
    const { ms, ratio } = compareTimes([() => index.moved(prev, next), () => movedKeys(prev, next, index.keys())], {
      rounds: quick || algorithm === 'rendezvous' ? 3 : 7,
    });
    const [tIndex, tScan] = ms;
    rows.push([algorithm, viaIndex.toLocaleString('en'), fmtMs(tIndex), fmtMs(tScan), fmtRatio(ratio(0, 1))]);
  }
  printTable(
    `index.moved vs a full scan (movedKeys over every indexed key): 10 nodes + 1, ${INDEX_KEYS.toLocaleString('en')} keys (rendezvous has no ranges: its index scans)`,
    ['algorithm', 'moved keys', 'index.moved', 'full scan', 'index / scan'],
    rows,
  );
}

// 3. Build time and memory at 1000 nodes, and withNodes(+1).
if (run('build')) {
  const specs = nodeSpecs(1000);
  const rows = [];
  for (const algorithm of ALGORITHMS) {
    // withNodes on an empty ring builds the whole ring synchronously, so time and memory are the build's own.
    const empty = await createRing([], { algorithm });
    const build = timeMs(() => empty.withNodes(specs), { rounds: 5 });
    const ring = empty.withNodes(specs);
    const plusOne = timeMs(() => ring.withNodes([{ id: 'node-new' }]), { rounds: 5 });
    // Several copies, so small rings rise above the collector's noise.
    const copies = 8;
    const mem = retainedBytes(() => Array.from({ length: copies }, () => empty.withNodes(specs)));
    rows.push([`@wsring/ring ${algorithm}`, fmtMs(build), fmtMs(plusOne), fmtBytes(mem.heap / copies), fmtBytes(mem.buffers / copies)]);
  }
  const servers = specs.map((s) => s.id);
  const makeHashring = () => new HashRingPeer(servers);
  const makeConsistent = () => {
    const ch = new ConsistentHashPeer();
    for (const s of servers) ch.add(s);
    ch.get('warm'); // builds its sorted point list on first use
    return ch;
  };
  for (const [name, make] of [['hashring', makeHashring], ['consistent-hash', makeConsistent]]) {
    const mem = retainedBytes(() => [make(), make()]);
    rows.push([name, fmtMs(timeMs(make, { rounds: 3 })), 'n/a', fmtBytes(mem.heap / 2), fmtBytes(mem.buffers / 2)]);
  }
  printTable('Build at 1000 nodes (weight 1 each)', ['', 'build', 'withNodes(+1)', 'heap', 'arrayBuffers'], rows);
}

if (!globalThis.gc) console.log('\n(memory: run with node --expose-gc)');
