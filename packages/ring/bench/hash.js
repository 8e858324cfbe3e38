// Where the inline xxh32 stops paying: hashing ASCII keys of growing length, inline vs xxhash-wasm.
// The crossover sets JS_MAX_LENGTH in src/xxh32.ts.
import xxhash from 'xxhash-wasm';
import { makeH32 } from '../dist/xxh32.js';
import { compareOps, fmtRate, fmtRatio, printTable, prng } from './lib.js';

const { h32 } = await xxhash();
const inline = makeH32(h32, Infinity);
const next = prng(7);
const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-';
const rows = [];
for (const len of [4, 8, 12, 16, 24, 32, 40, 48, 56, 64, 96, 128]) {
  const keys = JSON.parse(JSON.stringify(Array.from({ length: 50_000 }, () => Array.from({ length: len }, () => alphabet[next() % alphabet.length]).join(''))));
  for (const k of keys.slice(0, 100)) if (inline(k, 9) !== h32(k, 9)) throw new Error(`inline xxh32 differs on ${k}`);
  const { ops, ratio } = compareOps([(k) => h32(k, 0), (k) => inline(k, 0)], keys, { rounds: 11, roundMs: 20 });
  rows.push([String(len), fmtRate(ops[0]), fmtRate(ops[1]), fmtRatio(ratio(1, 0))]);
}
printTable('xxh32 of ASCII keys: xxhash-wasm vs inline', ['length', 'xxhash-wasm', 'inline', 'inline / wasm'], rows);
