import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortPoints } from '../src/sort-points.js';

// Positions drawn from a few values force ties (stability matters) and equal digits (skipped passes).
const position = fc.oneof(
  fc.nat({ max: 0xffffffff }),
  fc.constantFrom(0, 1, 0x7ff, 0x800, 0x3fffff, 0x400000, 0xffc00000, 0xffffffff),
);

describe('sortPoints', () => {
  it('sorts by position and keeps input order among equal positions', () => {
    fc.assert(
      fc.property(fc.array(position, { minLength: 1, maxLength: 3000 }), (positions) => {
        const expected = positions.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        const { pos, own } = sortPoints(Uint32Array.from(positions), Uint32Array.from(positions, (_, i) => i));
        expect(Array.from(pos)).toEqual(expected.map((e) => e[0]));
        expect(Array.from(own)).toEqual(expected.map((e) => e[1]));
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
