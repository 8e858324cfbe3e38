// xxHash32 (Collet, XXH32 specification) of a string's UTF-8 bytes, computed straight from the string when
// it is short and ASCII: then each UTF-16 code unit is the byte, and skipping TextEncoder.encodeInto and
// the call into WebAssembly makes hashing a typical user id about twice as fast. Anything else (non-ASCII,
// or long enough that the WebAssembly loop wins) goes to the fallback, which must compute the same
// function; tests check the two agree.

import { RingError } from './errors.js';

const P1 = 0x9e3779b1 | 0;
const P2 = 0x85ebca77 | 0;
const P3 = 0xc2b2ae3d | 0;
const P4 = 0x27d4eb2f | 0;
const P5 = 0x165667b1 | 0;

/** Longest string hashed here; past it the WebAssembly implementation is faster (measured in bench/hash.js). */
export const JS_MAX_LENGTH = 48;

/** Builds h32(input, seed): the inline path for ASCII strings up to `maxLength`, `fallback` for the rest. */
export function makeH32(
  fallback: (input: string, seed: number) => number,
  maxLength = JS_MAX_LENGTH,
): (input: string, seed: number) => number {
  return function h32(s: string, seed: number): number {
    // Checked here, where every key passes: a non-string key would otherwise hash like some fixed string.
    if (typeof s !== 'string') throw new RingError('INVALID_KEY', `keys must be strings, got ${typeof s}`);
    const len = s.length;
    if (len > maxLength) return fallback(s, seed);
    let i = 0;
    // OR of every code unit: below 0x80 exactly when the string is ASCII.
    let units = 0;
    let h: number;
    if (len >= 16) {
      let v1 = (seed + P1 + P2) | 0;
      let v2 = (seed + P2) | 0;
      let v3 = seed | 0;
      let v4 = (seed - P1) | 0;
      for (const limit = len - 16; i <= limit; ) {
        let a = s.charCodeAt(i++), b = s.charCodeAt(i++), c = s.charCodeAt(i++), d = s.charCodeAt(i++);
        units |= a | b | c | d;
        v1 = (v1 + Math.imul(a | (b << 8) | (c << 16) | (d << 24), P2)) | 0;
        v1 = Math.imul((v1 << 13) | (v1 >>> 19), P1);
        a = s.charCodeAt(i++); b = s.charCodeAt(i++); c = s.charCodeAt(i++); d = s.charCodeAt(i++);
        units |= a | b | c | d;
        v2 = (v2 + Math.imul(a | (b << 8) | (c << 16) | (d << 24), P2)) | 0;
        v2 = Math.imul((v2 << 13) | (v2 >>> 19), P1);
        a = s.charCodeAt(i++); b = s.charCodeAt(i++); c = s.charCodeAt(i++); d = s.charCodeAt(i++);
        units |= a | b | c | d;
        v3 = (v3 + Math.imul(a | (b << 8) | (c << 16) | (d << 24), P2)) | 0;
        v3 = Math.imul((v3 << 13) | (v3 >>> 19), P1);
        a = s.charCodeAt(i++); b = s.charCodeAt(i++); c = s.charCodeAt(i++); d = s.charCodeAt(i++);
        units |= a | b | c | d;
        v4 = (v4 + Math.imul(a | (b << 8) | (c << 16) | (d << 24), P2)) | 0;
        v4 = Math.imul((v4 << 13) | (v4 >>> 19), P1);
      }
      h = (((v1 << 1) | (v1 >>> 31)) + ((v2 << 7) | (v2 >>> 25)) + ((v3 << 12) | (v3 >>> 20)) + ((v4 << 18) | (v4 >>> 14))) | 0;
    } else {
      h = (seed + P5) | 0;
    }
    h = (h + len) | 0;
    while (i + 4 <= len) {
      const a = s.charCodeAt(i++), b = s.charCodeAt(i++), c = s.charCodeAt(i++), d = s.charCodeAt(i++);
      units |= a | b | c | d;
      h = (h + Math.imul(a | (b << 8) | (c << 16) | (d << 24), P3)) | 0;
      h = Math.imul((h << 17) | (h >>> 15), P4);
    }
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      units |= c;
      h = (h + Math.imul(c, P5)) | 0;
      h = Math.imul((h << 11) | (h >>> 21), P1);
    }
    if (units >= 0x80) return fallback(s, seed);
    h ^= h >>> 15;
    h = Math.imul(h, P2);
    h ^= h >>> 13;
    h = Math.imul(h, P3);
    h ^= h >>> 16;
    return h >>> 0;
  };
}
