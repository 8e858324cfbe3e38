// Writes placement.json: topologies, keys, key hashes, owners, preference lists and fingerprints for every
// algorithm. Run once after a deliberate placement change (`npm run vectors -w test`) and commit the result:
// the vectors pin placement, so any change to it shows up as a diff here and a failing test everywhere else.
import { writeFileSync } from 'node:fs';
import xxhash from 'xxhash-wasm';
import { createRing } from '@wsring/ring';

const { h32Raw } = await xxhash();
const encoder = new TextEncoder();

/**
 * Keys that exercise every code path of the key hash: lengths 0..70, across the 4- and 16-byte steps of
 * xxHash32 and the 48-character switch from the inline hash to xxhash-wasm (JS_MAX_LENGTH in
 * packages/ring/src/xxh32.ts); non-ASCII; and a lone surrogate.
 */
const KEYS = [
  ...Array.from({ length: 71 }, (_, n) => 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2).slice(0, n)),
  'user-0', 'user-1', 'user-42', 'user-1000000', 'alice@example.com', '550e8400-e29b-41d4-a716-446655440000',
  'café', 'cafe\u0301', 'ユーザー', '用户-7', 'пользователь', '😀', '👩‍👩‍👧', 'x'.repeat(200), 'ü'.repeat(40),
  '\ud800', '\ud800x', '\ufffd',
];
/** Keys whose preference lists are pinned too. */
const PREFERENCE_KEYS = ['', 'user-0', 'user-42', 'ユーザー', '😀', 'x'.repeat(200)];

const named = (prefix, n) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` }));
const UNICODE_NODES = [
  // Sorted by UTF-16 code units: the emoji (a surrogate pair, 0xD83D...) sorts before U+FF61, by code points it would not.
  { id: '\uff61-halfwidth', weight: 1 },
  { id: '😀-node', weight: 2 },
  { id: '東京-1', weight: 1.5 },
  { id: 'café', weight: 1 },
  { id: 'cafe\u0301', weight: 0.75 },
  { id: 'Zürich', weight: 1 },
];

const TOPOLOGIES = [
  { name: 'ring, 5 equal nodes, defaults', nodes: named('node-', 5), options: {} },
  { name: 'ring, fractional weights, seed 42', nodes: [{ id: 'a', weight: 0.5 }, { id: 'b', weight: 1 }, { id: 'c', weight: 2.5 }, { id: 'd', weight: 3.25 }, { id: 'e', weight: 0.01 }], options: { seed: 42 } },
  { name: 'ring, 7 points per weight, seed 0xdeadbeef, metadata', nodes: [{ id: 'ws-1', meta: { url: 'wss://ws-1.example' } }, { id: 'ws-2', weight: 2, meta: { url: 'wss://ws-2.example' } }, { id: 'ws-3', weight: 0.3 }], options: { seed: 0xdeadbeef, pointsPerWeight: 7 } },
  { name: 'ring, unicode ids, seed 7', nodes: UNICODE_NODES, options: { seed: 7 } },
  { name: 'ring, 40 nodes', nodes: named('n', 40), options: { seed: 1 } },
  { name: 'ring, one node', nodes: [{ id: 'only' }], options: {} },
  { name: 'maglev, 5 equal nodes, defaults', nodes: named('node-', 5), options: { algorithm: 'maglev' } },
  { name: 'maglev, fractional weights, table 251, seed 99', nodes: [{ id: 'a', weight: 0.5 }, { id: 'b', weight: 1 }, { id: 'c', weight: 2.5 }, { id: 'd', weight: 3.25 }], options: { algorithm: 'maglev', seed: 99, tableSize: 251 } },
  { name: 'maglev, unicode ids, seed 7', nodes: UNICODE_NODES, options: { algorithm: 'maglev', seed: 7 } },
  { name: 'maglev, 40 nodes, table 4099', nodes: named('n', 40), options: { algorithm: 'maglev', seed: 1, tableSize: 4099 } },
  { name: 'rendezvous, 5 equal nodes, defaults', nodes: named('node-', 5), options: { algorithm: 'rendezvous' } },
  { name: 'rendezvous, fractional weights, seed 42', nodes: [{ id: 'a', weight: 0.5 }, { id: 'b', weight: 1 }, { id: 'c', weight: 2.5 }, { id: 'd', weight: 3.25 }, { id: 'e', weight: 0.01 }], options: { algorithm: 'rendezvous', seed: 42 } },
  { name: 'rendezvous, unicode ids, seed 4294967295', nodes: UNICODE_NODES, options: { algorithm: 'rendezvous', seed: 0xffffffff } },
];

const cases = [];
for (const { name, nodes, options } of TOPOLOGIES) {
  const ring = await createRing(nodes, options);
  const lookups = KEYS.map((key) => {
    // The reference hash comes from xxhash-wasm over the UTF-8 bytes, independently of the library's own path.
    const hash = h32Raw(encoder.encode(key), ring.seed);
    if (ring.hashKey(key) !== hash) throw new Error(`${name}: hashKey(${JSON.stringify(key)}) differs from xxh32 of its UTF-8 bytes`);
    return { key, hash, owner: ring.owner(key) };
  });
  const preferences = PREFERENCE_KEYS.map((key) => ({ key, n: 3, owners: ring.owners(key, 3) }));
  cases.push({ name, snapshot: ring.toJSON(), fingerprint: ring.fingerprint, lookups, preferences });
}

const vectors = {
  description: 'Placement test vectors for @wsring/ring (docs/placement.md). Keys and ids are JSON strings; "\\ud800" is a lone surrogate, hashed as U+FFFD.',
  version: 1,
  cases,
};
writeFileSync(new URL('./placement.json', import.meta.url), format(vectors));
/** JSON with one line per lookup, so a placement change reads as a short diff. */
function format({ cases, ...head }) {
  const j = (v) => JSON.stringify(v);
  const list = (items) => `[\n${items.map((x) => `    ${j(x)}`).join(',\n')}\n   ]`;
  const body = cases.map((c) => [
    `  {\n   "name": ${j(c.name)},\n   "snapshot": ${j(c.snapshot)},\n   "fingerprint": ${j(c.fingerprint)},`,
    `   "lookups": ${list(c.lookups)},\n   "preferences": ${list(c.preferences)}\n  }`,
  ].join('\n'));
  const top = Object.entries(head).map(([k, v]) => ` ${j(k)}: ${j(v)},`).join('\n');
  return `{\n${top}\n "cases": [\n${body.join(',\n')}\n ]\n}\n`;
}
console.log(`wrote ${cases.length} topologies x ${KEYS.length} keys`);
