// Follows one placement algorithm of @wsring/ring through a sequence of fleets and counts, exactly, the users on
// each node and the users that change node. For `ring` and `maglev` it asks the library which hash ranges changed
// owner (ring.diff) and counts the users in them by binary search over the sorted hashes, so a step costs time in
// proportion to the changed ranges, not to the users. `rendezvous` has no ranges: every user is looked up again.
import { createRing, type Algorithm, type Move, type Ring } from '@wsring/ring';
import type { SimNode } from './types.js';

export interface RingSettings {
  algorithm: Algorithm;
  ringSeed: number;
  pointsPerWeight?: number;
  tableSize?: number;
}

/** Node id -> a dense index, stable for the whole run (ids that leave keep theirs). */
export class NodeRegistry {
  readonly ids: string[] = [];
  private readonly index = new Map<string, number>();
  indexOf(id: string): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.ids.push(id);
      this.index.set(id, i);
    }
    return i;
  }
}

export interface StepCount {
  moved: number;
  /** from index * 2^20 + to index -> users. */
  flows: Map<number, number>;
  /** The rings before and after the step, and the hash ranges that changed owner (null for rendezvous). */
  prev: Ring;
  next: Ring;
  moves: Move[] | null;
}

export const FLOW_SHIFT = 2 ** 20;
const SCAN_REPORT = 1 << 16;

/** Id of the one node of the reference ring used to list a ring's ranges; never a real node (ids are compared, not shown). */
const NOBODY = '\u0000nobody';

/** Index of the first element >= value in an ascending array (value may be 2^32). */
export function lowerBound(sorted: Uint32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function fleetKey(nodes: readonly SimNode[]): string {
  return nodes.map((n) => `${n.id}\u0000${n.weight}`).sort().join('\u0001');
}

export class RingTracker {
  /** Users per node, by registry index. */
  loads: Float64Array;
  private ring: Ring;
  private fleet: readonly SimNode[];
  /** rendezvous only: the owner (registry index) of every user, in hash order. */
  private owners: Uint32Array | undefined;
  /** The last few rings by fleet: a rolling deploy keeps returning to the same fleet. */
  private readonly recent = new Map<string, Ring>();

  private constructor(
    readonly registry: NodeRegistry,
    private readonly hashes: Uint32Array,
    ring: Ring,
    fleet: readonly SimNode[],
    nobody: Ring,
    /** rendezvous only: told every SCAN_REPORT users looked up, for progress bars. */
    private readonly onScanned?: (users: number) => void,
  ) {
    this.ring = ring;
    this.fleet = fleet;
    this.loads = new Float64Array(Math.max(16, registry.ids.length));
    this.remember(fleet, ring);
    const indexOfId = this.indexById(ring);
    if (ring.algorithm === 'rendezvous') {
      this.owners = new Uint32Array(hashes.length);
      for (let u = 0; u < hashes.length; u++) {
        const o = indexOfId.get(ring.ownerOfHash(hashes[u]))!;
        this.owners[u] = o;
        this.loads[o]++;
        if ((u + 1) % SCAN_REPORT === 0) onScanned?.(SCAN_REPORT);
      }
      onScanned?.(hashes.length % SCAN_REPORT);
      return;
    }
    // Against a one-node ring every hash range "moves", so the diff lists the whole ring: range -> owner.
    for (const m of nobody.diff(ring)) this.loads[indexOfId.get(m.to)!] += lowerBound(hashes, m.end) - lowerBound(hashes, m.start);
  }

  static async create(settings: RingSettings, nodes: readonly SimNode[], hashes: Uint32Array, onScanned?: (users: number) => void): Promise<RingTracker> {
    const registry = new NodeRegistry();
    for (const n of nodes) registry.indexOf(n.id);
    const options = { algorithm: settings.algorithm, seed: settings.ringSeed, pointsPerWeight: settings.pointsPerWeight, tableSize: settings.tableSize };
    const ring = await createRing(nodes.map(spec), options);
    const nobody = await createRing([{ id: NOBODY }], { algorithm: settings.algorithm === 'rendezvous' ? 'ring' : settings.algorithm, seed: settings.ringSeed });
    return new RingTracker(registry, hashes, ring, nodes, nobody, onScanned);
  }

  get algorithm(): Algorithm {
    return this.ring.algorithm;
  }

  /** Moves to the fleet `next` and counts who moved. */
  step(next: readonly SimNode[]): StepCount {
    for (const n of next) this.registry.indexOf(n.id);
    if (this.loads.length < this.registry.ids.length) {
      const bigger = new Float64Array(this.registry.ids.length * 2);
      bigger.set(this.loads);
      this.loads = bigger;
    }
    const prev = this.ring;
    const nextRing = this.ringFor(next);
    const count = this.owners ? { ...this.rescan(nextRing), moves: null } : this.countRanges(nextRing);
    this.ring = nextRing;
    this.fleet = next;
    return { ...count, prev, next: nextRing };
  }

  private indexById(ring: Ring): Map<string, number> {
    return new Map(ring.nodes.map((n) => [n.id, this.registry.indexOf(n.id)] as const));
  }

  private countRanges(next: Ring): { moved: number; flows: Map<number, number>; moves: Move[] } {
    const flows = new Map<number, number>();
    let moved = 0;
    const moves = this.ring.diff(next);
    for (const m of moves) {
      const users = lowerBound(this.hashes, m.end) - lowerBound(this.hashes, m.start);
      if (users === 0) continue;
      const from = this.registry.indexOf(m.from);
      const to = this.registry.indexOf(m.to);
      this.loads[from] -= users;
      this.loads[to] += users;
      moved += users;
      const key = from * FLOW_SHIFT + to;
      flows.set(key, (flows.get(key) ?? 0) + users);
    }
    return { moved, flows, moves };
  }

  private rescan(next: Ring): { moved: number; flows: Map<number, number> } {
    const owners = this.owners!;
    const idOrder = this.indexById(next);
    const flows = new Map<number, number>();
    let moved = 0;
    for (let u = 0; u < this.hashes.length; u++) {
      if ((u + 1) % SCAN_REPORT === 0) this.onScanned?.(SCAN_REPORT);
      const to = idOrder.get(next.ownerOfHash(this.hashes[u]))!;
      const from = owners[u];
      if (to === from) continue;
      owners[u] = to;
      this.loads[from]--;
      this.loads[to]++;
      moved++;
      const key = from * FLOW_SHIFT + to;
      flows.set(key, (flows.get(key) ?? 0) + 1);
    }
    this.onScanned?.(this.hashes.length % SCAN_REPORT);
    return { moved, flows };
  }

  private ringFor(next: readonly SimNode[]): Ring {
    const key = fleetKey(next);
    const cached = this.recent.get(key);
    if (cached) return cached;
    const nextIds = new Set(next.map((n) => n.id));
    const current = new Map(this.fleet.map((n) => [n.id, n.weight] as const));
    const removed = this.fleet.filter((n) => !nextIds.has(n.id)).map((n) => n.id);
    const changed = next.filter((n) => current.get(n.id) !== n.weight).map(spec);
    let ring = this.ring;
    if (removed.length > 0) ring = ring.withoutNodes(removed);
    if (changed.length > 0) ring = ring.withNodes(changed);
    this.remember(next, ring);
    return ring;
  }

  private remember(fleet: readonly SimNode[], ring: Ring): void {
    const key = fleetKey(fleet);
    this.recent.delete(key);
    this.recent.set(key, ring);
    // Two is enough for a rolling deploy (the full fleet and the one without the node being deployed).
    while (this.recent.size > 2) this.recent.delete(this.recent.keys().next().value!);
  }
}

function spec(n: SimNode): { id: string; weight: number } {
  return { id: n.id, weight: n.weight };
}
