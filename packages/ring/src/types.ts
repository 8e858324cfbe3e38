/** A node that keys can be placed on. */
export interface NodeSpec {
  /** Unique, non-empty identifier. Placement depends on it, so keep it stable across restarts. */
  id: string;
  /** Relative capacity, finite and > 0. Default 1. A node's share of keys follows its weight. */
  weight?: number;
  /** Free-form string metadata (for example the node's public URL). Never affects placement. */
  meta?: Record<string, string>;
}

/** A node as the ring holds it: weight filled in, metadata copied. */
export interface RingNode {
  readonly id: string;
  readonly weight: number;
  readonly meta?: Readonly<Record<string, string>>;
}

/**
 * - `ring`: virtual nodes on a 32-bit circle (Karger et al., 1997), points in proportion to weight.
 * - `maglev`: Maglev lookup table (Eisenbud et al., NSDI 2016), weighted, prime table size.
 * - `rendezvous`: weighted highest-random-weight, logarithmic method (Thaler & Ravishankar, 1998;
 *   weighting after Schindelhauer & Schomaker, 2005). Has no hash ranges.
 */
export type Algorithm = 'ring' | 'maglev' | 'rendezvous';

export interface RingOptions {
  /** Placement algorithm. Default `ring`. */
  algorithm?: Algorithm;
  /** Seed for every hash the placement uses, an unsigned 32-bit integer. Default 0. */
  seed?: number;
  /** `ring` only: points per unit of weight (each node gets at least one). Default 160. */
  pointsPerWeight?: number;
  /** `maglev` only: lookup table size, a prime. Default: the smallest prime >= max(65537, 100 * nodes). */
  tableSize?: number;
}

/** Plain-JSON description of a ring: everything placement depends on, and the nodes' metadata. */
export interface RingSnapshot {
  version: 1;
  algorithm: Algorithm;
  seed: number;
  /** Present for `ring`. */
  pointsPerWeight?: number;
  /** Present for `maglev`. */
  tableSize?: number;
  /** Sorted by id. */
  nodes: { id: string; weight: number; meta?: Record<string, string> }[];
}

/** A half-open range [start, end) of 32-bit key hashes whose owner changes from `from` to `to`. */
export interface Move {
  start: number;
  /** Exclusive; at most 2^32. */
  end: number;
  from: string;
  to: string;
}

/** A key whose owner changes between two rings. */
export interface MovedKey {
  key: string;
  from: string;
  to: string;
}

export interface Ring {
  readonly algorithm: Algorithm;
  readonly seed: number;
  /** The nodes, sorted by id. */
  readonly nodes: readonly RingNode[];
  /** Equal for two rings exactly when they place every key on the same node. */
  readonly fingerprint: string;
  /** The node that owns `key`. Throws `RingError('EMPTY_RING')` on a ring without nodes. */
  owner(key: string): string;
  /** Preference list: min(n, nodes) distinct node ids, owner first. */
  owners(key: string, n: number): string[];
  /** The 32-bit hash placement uses for `key` (xxh32 of its UTF-8 bytes with the ring's seed). */
  hashKey(key: string): number;
  /** The owner of a key whose hash is `hash` (see `hashKey`). */
  ownerOfHash(hash: number): string;
  /** Add nodes, or replace existing ones by id (re-weight). Returns a new ring; this one is unchanged. */
  withNodes(nodes: NodeSpec[]): Ring;
  /** Remove nodes by id (unknown ids are an error). Returns a new ring; this one is unchanged. */
  withoutNodes(ids: string[]): Ring;
  toJSON(): RingSnapshot;
  /** Hash ranges that change owner from this ring to `next`: half-open, merged, sorted. Not for `rendezvous`. */
  diff(next: Ring): Move[];
}

export interface KeyIndex {
  readonly size: number;
  add(key: string): void;
  /** Returns whether the key was present. */
  delete(key: string): boolean;
  has(key: string): boolean;
  keys(): IterableIterator<string>;
  /**
   * The indexed keys whose owner differs between `prev` and `next`. Same set as `movedKeys` over
   * the indexed keys; for `ring` and `maglev` it costs time in proportion to the moved ranges and the
   * keys in them, not to the index size.
   */
  moved(prev: Ring, next: Ring): MovedKey[];
}

export type RingErrorCode =
  | 'EMPTY_ID'
  | 'INVALID_ID'
  | 'DUPLICATE_ID'
  | 'UNKNOWN_ID'
  | 'INVALID_WEIGHT'
  | 'INVALID_META'
  | 'INVALID_KEY'
  | 'INVALID_COUNT'
  | 'INVALID_OPTION'
  | 'UNKNOWN_ALGORITHM'
  | 'MALFORMED_SNAPSHOT'
  | 'EMPTY_RING'
  | 'NO_RANGES'
  | 'TOO_MANY_NODES';
