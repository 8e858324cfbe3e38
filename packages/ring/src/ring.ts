import { diffSegments } from './diff.js';
import { RingError } from './errors.js';
import { loadHasher, type Hasher } from './hash.js';
import { Maglev, defaultTableSize } from './maglev.js';
import { concatBytes, utf8, type Placement, type Segments } from './placement.js';
import { Rendezvous } from './rendezvous.js';
import type { Move, NodeSpec, Ring, RingNode, RingOptions, RingSnapshot } from './types.js';
import { describeKind, describeValue, normalizeNode, normalizeNodes, resolveOptions, type ResolvedOptions } from './validate.js';
import { VirtualRing, type PointCache } from './virtual-ring.js';

class HashRing implements Ring {
  readonly algorithm: RingOptions['algorithm'] & string;
  readonly seed: number;
  readonly nodes: readonly RingNode[];
  /** Node ids in the same (sorted) order as `nodes`; placements answer with indices into it. */
  readonly ids: readonly string[];
  private readonly placement: Placement | undefined;
  private readonly h32: (input: string, seed: number) => number;
  private fp: string | undefined;
  /** The node that owns `key`: a function built for this ring's placement (see Placement.lookup). */
  readonly owner: (key: string) => string;

  constructor(private readonly hasher: Hasher, private opts: ResolvedOptions, nodes: RingNode[], cache?: PointCache) {
    this.algorithm = opts.algorithm;
    this.seed = opts.seed;
    this.nodes = Object.freeze(nodes.map((n) => Object.freeze(n)));
    this.ids = Object.freeze(nodes.map((n) => n.id));
    this.h32 = hasher.h32;
    if (nodes.length > 0) {
      switch (opts.algorithm) {
        case 'ring':
          this.placement = new VirtualRing(hasher, nodes, opts.seed, opts.pointsPerWeight, cache);
          break;
        case 'maglev':
          if (opts.tableSize === 0) this.opts = opts = { ...opts, tableSize: defaultTableSize(nodes.length) };
          if (nodes.length > opts.tableSize) throw new RingError('TOO_MANY_NODES', `${nodes.length} nodes for a Maglev table of ${opts.tableSize} slots`);
          this.placement = new Maglev(hasher, nodes, opts.seed, opts.tableSize);
          break;
        case 'rendezvous':
          this.placement = new Rendezvous(hasher, nodes, opts.seed);
          break;
      }
    }
    this.owner = this.placement ? this.placement.lookup(this.h32, this.seed, this.ids) : emptyRingOwner;
  }

  private get p(): Placement {
    if (!this.placement) throw new RingError('EMPTY_RING', 'the ring has no nodes');
    return this.placement;
  }

  hashKey(key: string): number {
    return this.h32(key, this.seed);
  }

  ownerOfHash(hash: number): string {
    return this.ids[this.p.ownerIndex(hash)];
  }

  owners(key: string, n: number): string[] {
    if (!Number.isInteger(n) || n < 1) throw new RingError('INVALID_COUNT', `owners() needs an integer n >= 1, got ${describeValue(n)}`);
    return this.p.preference(this.h32(key, this.seed), n).map((i) => this.ids[i]);
  }

  get fingerprint(): string {
    if (this.fp) return this.fp;
    const head = utf8(JSON.stringify([this.algorithm, this.seed, this.nodes.length]));
    const body = this.placement ? this.placement.canonical() : new Uint8Array(0);
    return (this.fp = this.hasher.h64Hex(concatBytes([head, body]), 0n));
  }

  /** Ownership segments for diffs; null for rendezvous. Throws on an empty ring. */
  segments(): Segments | null {
    return this.p.segments();
  }

  withNodes(specs: NodeSpec[]): Ring {
    if (!Array.isArray(specs)) throw new RingError('INVALID_ID', `withNodes() needs an array of nodes, got ${describeKind(specs)}`);
    const byId = new Map(this.nodes.map((n) => [n.id, n] as const));
    const seen = new Set<string>();
    specs.forEach((s, i) => {
      const node = normalizeNode(s, `nodes[${i}]`);
      if (seen.has(node.id)) throw new RingError('DUPLICATE_ID', `node id ${JSON.stringify(node.id)} appears twice`);
      seen.add(node.id);
      byId.set(node.id, node);
    });
    return this.derive([...byId.values()]);
  }

  withoutNodes(ids: string[]): Ring {
    if (!Array.isArray(ids)) throw new RingError('INVALID_ID', `withoutNodes() needs an array of ids, got ${describeKind(ids)}`);
    const drop = new Set(ids);
    for (const id of drop) {
      if (!this.ids.includes(id)) throw new RingError('UNKNOWN_ID', `no node ${describeValue(id)} in the ring`);
    }
    return this.derive(this.nodes.filter((n) => !drop.has(n.id)));
  }

  private derive(nodes: RingNode[]): Ring {
    const cache = this.placement instanceof VirtualRing ? this.placement.pointPositions() : undefined;
    return new HashRing(this.hasher, this.opts, normalizeNodes(nodes), cache);
  }

  toJSON(): RingSnapshot {
    const snap: RingSnapshot = {
      version: 1,
      algorithm: this.algorithm,
      seed: this.seed,
      nodes: this.nodes.map((n) => (n.meta ? { id: n.id, weight: n.weight, meta: { ...n.meta } } : { id: n.id, weight: n.weight })),
    };
    if (this.algorithm === 'ring') snap.pointsPerWeight = this.opts.pointsPerWeight;
    if (this.algorithm === 'maglev' && this.opts.tableSize) snap.tableSize = this.opts.tableSize;
    return snap;
  }

  diff(next: Ring): Move[] {
    const other = asHashRing(next);
    if (this.algorithm === 'rendezvous' || other.algorithm === 'rendezvous') {
      throw new RingError('NO_RANGES', 'rendezvous placement has no hash ranges; use movedKeys() or a key index');
    }
    if (this.seed !== other.seed) {
      throw new RingError('NO_RANGES', `rings with different seeds (${this.seed}, ${other.seed}) hash keys differently; their ranges do not compare`);
    }
    return diffSegments(this.segments()!, this.ids, other.segments()!, other.ids);
  }
}

function emptyRingOwner(): string {
  throw new RingError('EMPTY_RING', 'the ring has no nodes');
}

export function asHashRing(ring: Ring): HashRing {
  if (!(ring instanceof HashRing)) throw new RingError('INVALID_OPTION', 'not a ring made by createRing() or loadRing()');
  return ring;
}

export type { HashRing };

/** Build a ring. The only asynchronous step is loading the hash function; every call after is synchronous. */
export async function createRing(nodes: NodeSpec[], options?: RingOptions): Promise<Ring> {
  const opts = resolveOptions(options);
  const normalized = normalizeNodes(nodes);
  return new HashRing(await loadHasher(), opts, normalized);
}

/** Rebuild a ring from `toJSON()` output: same fingerprint, same placement. */
export async function loadRing(snapshot: RingSnapshot): Promise<Ring> {
  const hasher = await loadHasher();
  try {
    if (snapshot === null || typeof snapshot !== 'object') throw new RingError('MALFORMED_SNAPSHOT', 'not an object');
    if (snapshot.version !== 1) throw new RingError('MALFORMED_SNAPSHOT', `version ${describeValue(snapshot.version)}; expected 1`);
    if (!Array.isArray(snapshot.nodes)) throw new RingError('MALFORMED_SNAPSHOT', 'nodes must be an array');
    const opts = resolveOptions({
      algorithm: snapshot.algorithm,
      seed: snapshot.seed,
      pointsPerWeight: snapshot.pointsPerWeight,
      tableSize: snapshot.tableSize,
    });
    if (snapshot.seed === undefined) throw new RingError('MALFORMED_SNAPSHOT', 'seed is missing');
    return new HashRing(hasher, opts, normalizeNodes(snapshot.nodes));
  } catch (e) {
    if (e instanceof RingError && e.code !== 'MALFORMED_SNAPSHOT') throw new RingError('MALFORMED_SNAPSHOT', e.message);
    throw e;
  }
}
