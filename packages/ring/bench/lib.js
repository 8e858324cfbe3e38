// Shared pieces of the benchmarks: fixed keys, a timing loop that reports medians, and a table printer.

/** xorshift32: a fixed sequence, so every run and every peer sees the same keys. */
export function prng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

/**
 * `count` distinct keys of one shape. Keys arrive from the network as flat strings; building them by
 * concatenation leaves rope strings behind, so they are flattened through JSON to measure what production sees.
 */
export function makeKeys(count, shape, seed = 1) {
  const next = prng(seed);
  const hex = (n) => next().toString(16).padStart(8, '0').slice(0, n);
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = shape === 'uuid'
      ? `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(8)}${hex(4)}`
      : `user-${i * 7919 + (next() % 7919)}`;
  }
  return JSON.parse(JSON.stringify(out));
}

export function nodeSpecs(n, prefix = 'node') {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}` }));
}

const now = () => performance.now();
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Keeps results alive so the engine cannot drop the work being measured. */
export let sink = 0;
export function consume(x) {
  sink = (sink + (typeof x === 'string' ? x.length : typeof x === 'number' ? x : 1)) | 0;
}

// Every measurement gets its own copy of the timing loop (a new Function has fresh type feedback): one shared
// loop would see many different `op`s, turn the call megamorphic and add the same cost to every contender.
const LOOP_SOURCE = `
  let at = start, done = 0, acc = 0;
  const n = keys.length, t0 = now();
  let t = t0;
  while (t - t0 < roundMs) {
    for (let i = 0; i < 1024; i++) {
      acc += op(keys[at]) === undefined ? 0 : 1;
      at = at + 1 === n ? 0 : at + 1;
    }
    done += 1024;
    t = now();
  }
  return [done, t - t0, at, acc];`;

/**
 * Operations per second of `op(key)` over `keys` (cycling), median of `rounds` rounds of at least
 * `roundMs` each, after one warm-up round.
 */
export function opsPerSecond(op, keys, { rounds = 7, roundMs = 60 } = {}) {
  const loop = new Function('op', 'keys', 'start', 'now', 'roundMs', LOOP_SOURCE);
  let at = 0;
  const round = () => {
    const [done, ms, next, acc] = loop(op, keys, at, now, roundMs);
    at = next;
    consume(acc);
    return (done * 1000) / ms;
  };
  round();
  const results = [];
  for (let r = 0; r < rounds; r++) results.push(round());
  return median(results);
}

/**
 * Measures several contenders over the same keys, interleaved: every round times each contender once, so load
 * from other processes lands on all of them alike. Returns median ops/s per contender and `ratio(a, b)`, the
 * median over rounds of a's rate divided by b's rate in the same round (steadier than a ratio of medians).
 */
export function compareOps(ops, keys, { rounds = 15, roundMs = 25 } = {}) {
  const loops = ops.map(() => new Function('op', 'keys', 'start', 'now', 'roundMs', LOOP_SOURCE));
  const at = ops.map(() => 0);
  const rate = (i) => {
    const [done, ms, next, acc] = loops[i](ops[i], keys, at[i], now, roundMs);
    at[i] = next;
    consume(acc);
    return (done * 1000) / ms;
  };
  ops.forEach((_, i) => rate(i));
  const samples = ops.map(() => []);
  for (let r = 0; r < rounds; r++) ops.forEach((_, i) => samples[i].push(rate(i)));
  return {
    ops: samples.map(median),
    ratio: (a, b) => median(samples[a].map((x, r) => x / samples[b][r])),
  };
}

/** Median wall time in ms of `fn()`, after `warmup` unmeasured calls. */
export function timeMs(fn, { rounds = 5, warmup = 1 } = {}) {
  for (let i = 0; i < warmup; i++) consume(fn());
  const xs = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = now();
    consume(fn());
    xs.push(now() - t0);
  }
  return median(xs);
}

/** Wall times of several functions, interleaved round by round (see compareOps): medians and per-round ratios. */
export function compareTimes(fns, { rounds = 7, warmup = 1 } = {}) {
  for (let i = 0; i < warmup; i++) fns.forEach((fn) => consume(fn()));
  const samples = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, i) => {
      const t0 = now();
      consume(fn());
      samples[i].push(now() - t0);
    });
  }
  return {
    ms: samples.map(median),
    ratio: (a, b) => median(samples[a].map((x, r) => x / samples[b][r])),
  };
}

/** Heap and ArrayBuffer bytes retained by the value `make()` returns (needs --expose-gc). */
export function retainedBytes(make) {
  const gc = globalThis.gc;
  if (!gc) return { heap: NaN, buffers: NaN };
  gc();
  gc();
  const before = process.memoryUsage();
  const keep = make();
  gc();
  gc();
  const after = process.memoryUsage();
  consume(keep);
  return { heap: after.heapUsed - before.heapUsed, buffers: after.arrayBuffers - before.arrayBuffers, keep };
}

export function fmtRate(x) {
  if (!Number.isFinite(x)) return 'n/a';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M/s`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k/s`;
  return `${x.toFixed(0)} /s`;
}

export function fmtMs(x) {
  if (!Number.isFinite(x)) return 'n/a';
  return x >= 100 ? `${x.toFixed(0)} ms` : x >= 1 ? `${x.toFixed(1)} ms` : `${(x * 1000).toFixed(0)} µs`;
}

export function fmtBytes(x) {
  if (!Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  return a >= 1 << 20 ? `${(x / (1 << 20)).toFixed(1)} MiB` : `${(x / 1024).toFixed(0)} KiB`;
}

export function fmtRatio(x) {
  if (!Number.isFinite(x)) return 'n/a';
  return x >= 100 ? `${x.toFixed(0)}x` : x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`;
}

/** Prints rows (arrays of strings) as an aligned Markdown table, so the output pastes into the README. */
export function printTable(title, header, rows) {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => `| ${cells.map((x, c) => (c === 0 ? String(x).padEnd(widths[c]) : String(x).padStart(widths[c]))).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(header));
  console.log(`| ${widths.map((w, c) => (c === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`);
  for (const r of rows) console.log(line(r));
}
