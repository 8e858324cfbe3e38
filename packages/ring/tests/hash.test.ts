import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { describe, expect, it } from 'vitest';
import { loadHasher } from '../src/hash.js';
import { JS_MAX_LENGTH, makeH32 } from '../src/xxh32.js';

const { h32: wasmH32 } = await xxhash();
const { h32 } = await loadHasher();
// Without a length limit the inline path answers every ASCII string, so the properties reach its 16-byte stripes.
const inlineOnly = makeH32(() => Number.NaN, Number.POSITIVE_INFINITY);

const seed = fc.nat({ max: 0xffffffff });
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const anyString = fc.oneof(
  fc.string({ unit: 'binary-ascii', maxLength: 3 * JS_MAX_LENGTH }),
  fc.string({ unit: 'binary', maxLength: 2 * JS_MAX_LENGTH }),
  fc.string({ unit: codeUnit, maxLength: 2 * JS_MAX_LENGTH }),
);

describe('xxh32 of strings', () => {
  it('matches xxhash-wasm on ASCII strings of every length, inline', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 200 }), seed, (s, sd) => {
        expect(inlineOnly(s, sd)).toBe(wasmH32(s, sd));
      }),
      { numRuns: 2000, seed: 42 },
    );
  });

  it('matches xxhash-wasm on any string (non-ASCII, lone surrogates, long) through the hasher', () => {
    fc.assert(
      fc.property(anyString, seed, (s, sd) => {
        expect(h32(s, sd)).toBe(wasmH32(s, sd));
      }),
      { numRuns: 3000, seed: 43 },
    );
  });

  it('hands non-ASCII strings to the fallback', () => {
    for (const s of ['é', 'user-日本', 'a'.repeat(20) + '\u0100', '\ud83d\ude00', '\udc00x']) {
      expect(inlineOnly(s, 0)).toBeNaN();
      expect(h32(s, 0)).toBe(wasmH32(s, 0));
    }
  });

  it('agrees with the published xxh32 test values', () => {
    // Reference values from the xxHash project: XXH32("", 0) and XXH32("abc", 0).
    expect(h32('', 0)).toBe(0x02cc5d05);
    expect(h32('abc', 0)).toBe(0x32d153ff);
  });
});
