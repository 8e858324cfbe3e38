import xxhash from 'xxhash-wasm';
import { makeH32 } from './xxh32.js';

export interface Hasher {
  /** xxh32 of the UTF-8 bytes of `input`, as an unsigned 32-bit integer. */
  h32(input: string, seed: number): number;
  /** xxh64 of raw bytes, as 16 lowercase hex digits. */
  h64Hex(bytes: Uint8Array, seed: bigint): string;
}

let hasher: Hasher | undefined;
let loading: Promise<Hasher> | undefined;

/** The one asynchronous step: instantiate the xxhash WebAssembly module (once per process or page). */
export function loadHasher(): Promise<Hasher> {
  if (hasher) return Promise.resolve(hasher);
  loading ??= xxhash().then((x) => {
    hasher = {
      // Short ASCII strings are hashed inline; the rest by the WebAssembly module. Same function either way.
      h32: makeH32(x.h32),
      h64Hex: (bytes, seed) => x.h64Raw(bytes, seed).toString(16).padStart(16, '0'),
    };
    return hasher;
  });
  return loading;
}

/** MurmurHash3's 32-bit finaliser: a bijective avalanche mix. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
