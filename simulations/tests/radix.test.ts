import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { radixSortUint32 } from '../src/radix.js';
import { mergeSorted } from '../src/users.js';

describe('sorting user hashes', () => {
  it('radix sort agrees with the built-in sort, above and below its cut-over size', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 20_000 }), fc.boolean(), (xs, clustered) => {
        // Clustered values share their high bits, which exercises the second pass.
        const input = Uint32Array.from(xs, (x) => (clustered ? (0xabcd0000 | (x & 0xffff)) >>> 0 : x));
        expect(radixSortUint32(input.slice())).toEqual(input.slice().sort());
      }),
      { numRuns: 60, seed: 3 },
    );
  });

  it('merging two sorted runs gives the sorted whole', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff })), fc.array(fc.integer({ min: 0, max: 0xffffffff })), (a, b) => {
        const merged = mergeSorted(Uint32Array.from(a).sort(), Uint32Array.from(b).sort());
        expect(merged).toEqual(Uint32Array.from([...a, ...b]).sort());
      }),
      { seed: 4 },
    );
  });
});
