// Placements people reach for without consistent hashing, as baselines for `compare`.

/** 2862933555777941757, the 64-bit LCG multiplier of jump hash, as two 32-bit halves. */
const MUL_HI = 0x27bb2ee6;
const MUL_LO = 0x87b0b0fd;

/**
 * Jump consistent hash (Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm", 2014): the bucket in
 * [0, buckets) of a 64-bit key given as two unsigned 32-bit halves. 64-bit arithmetic is done on 32-bit halves.
 */
export function jumpHash(keyHi: number, keyLo: number, buckets: number): number {
  let hi = keyHi >>> 0;
  let lo = keyLo >>> 0;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // key = key * MUL + 1 (mod 2^64)
    const lo0 = lo & 0xffff;
    const lo1 = lo >>> 16;
    const m0 = MUL_LO & 0xffff;
    const m1 = MUL_LO >>> 16;
    const p00 = lo0 * m0;
    const p01 = lo0 * m1;
    const p10 = lo1 * m0;
    const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
    const newLo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
    const carry = lo1 * m1 + Math.floor(p01 / 65536) + Math.floor(p10 / 65536) + Math.floor(mid / 65536);
    let newHi = (carry + Math.imul(hi, MUL_LO) + Math.imul(lo, MUL_HI)) >>> 0;
    let incLo = (newLo + 1) >>> 0;
    if (incLo === 0) newHi = (newHi + 1) >>> 0;
    hi = newHi;
    lo = incLo;
    // j = (b + 1) * (2^31 / ((key >> 33) + 1))
    j = Math.floor((b + 1) * (2147483648 / ((hi >>> 1) + 1)));
  }
  return b;
}

/** Splits `n` in proportion to `weights`: floors, then the largest remainders (ties to the lower index). */
export function apportion(n: number, weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (n * w) / total);
  const out = exact.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k][1]]++;
  return out;
}

/**
 * Least connections, one user at a time: each goes to the node with the fewest connections per unit of weight
 * (ties to the lower index). Returns how many of `n` arriving users each node gets, given its current `loads`.
 */
export function leastConnections(n: number, loads: readonly number[], weights: readonly number[]): number[] {
  const got = new Array<number>(loads.length).fill(0);
  // Binary heap of node indices keyed by (load / weight, index).
  const key = (i: number) => (loads[i] + got[i]) / weights[i];
  const less = (a: number, b: number) => key(a) < key(b) || (key(a) === key(b) && a < b);
  const heap = loads.map((_, i) => i);
  const down = (at: number) => {
    for (;;) {
      const l = 2 * at + 1;
      const r = l + 1;
      let m = at;
      if (l < heap.length && less(heap[l], heap[m])) m = l;
      if (r < heap.length && less(heap[r], heap[m])) m = r;
      if (m === at) return;
      [heap[at], heap[m]] = [heap[m], heap[at]];
      at = m;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  for (let k = 0; k < n; k++) {
    got[heap[0]]++;
    down(0);
  }
  return got;
}
