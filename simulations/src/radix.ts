/** Sorts unsigned 32-bit integers ascending in two passes of 16 bits (LSD radix): linear time, one scratch array. */
export function radixSortUint32(a: Uint32Array): Uint32Array {
  const n = a.length;
  if (n < 1 << 12) return a.sort();
  const tmp = new Uint32Array(n);
  const count = new Uint32Array(1 << 16);
  pass(a, tmp, count, 0);
  pass(tmp, a, count, 16);
  return a;
}

function pass(from: Uint32Array, to: Uint32Array, count: Uint32Array, shift: number): void {
  count.fill(0);
  const n = from.length;
  for (let i = 0; i < n; i++) count[(from[i] >>> shift) & 0xffff]++;
  let sum = 0;
  for (let d = 0; d < count.length; d++) {
    const c = count[d];
    count[d] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const v = from[i];
    to[count[(v >>> shift) & 0xffff]++] = v;
  }
}
