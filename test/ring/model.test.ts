// Model-based tests (fc.commands) for the two stateful things in @wsring/ring: a ring evolving through
// withNodes/withoutNodes, and a key index through adds and deletes. Each step is checked against a plain model.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKeyIndex, createRing, type Algorithm, type KeyIndex, type NodeSpec, type Ring } from '@wsring/ring';
import { ALGORITHMS, bruteForceMoved, nodeId, sortedMoves, weight } from './support.js';

const PROBES = Array.from({ length: 300 }, (_, i) => `probe-${i}`);

// --- A ring through a sequence of fleet changes -----------------------------------------------------------------

interface FleetModel {
  nodes: Map<string, NodeSpec>;
}
interface FleetReal {
  ring: Ring;
  algorithm: Algorithm;
  seed: number;
}

/** After every step the derived ring must equal a ring built from scratch from the model's nodes. */
async function expectMatchesModel(m: FleetModel, r: FleetReal): Promise<void> {
  const scratch = await createRing([...m.nodes.values()], { algorithm: r.algorithm, seed: r.seed, tableSize: r.ring.toJSON().tableSize });
  expect(r.ring.nodes.map((n) => [n.id, n.weight])).toEqual(scratch.nodes.map((n) => [n.id, n.weight]));
  expect(r.ring.fingerprint).toBe(scratch.fingerprint);
  if (m.nodes.size === 0) return;
  expect(PROBES.map((k) => r.ring.owner(k))).toEqual(PROBES.map((k) => scratch.owner(k)));
  // Over the whole hash space, not just the probes.
  if (r.algorithm !== 'rendezvous') expect(r.ring.diff(scratch)).toEqual([]);
}

class AddOrReweight implements fc.AsyncCommand<FleetModel, FleetReal> {
  constructor(readonly node: NodeSpec) {}
  check = () => true;
  async run(m: FleetModel, r: FleetReal): Promise<void> {
    const before = r.ring;
    const ownersBefore = before.nodes.length > 0 ? PROBES.map((k) => before.owner(k)) : [];
    const nodesBefore = before.toJSON().nodes;
    r.ring = r.ring.withNodes([this.node]);
    m.nodes.set(this.node.id, this.node);
    // The ring it came from is unchanged.
    expect(before.toJSON().nodes).toEqual(nodesBefore);
    if (before.nodes.length > 0) expect(PROBES.map((k) => before.owner(k))).toEqual(ownersBefore);
    await expectMatchesModel(m, r);
  }
  toString = () => `withNodes(${JSON.stringify(this.node)})`;
}

class Remove implements fc.AsyncCommand<FleetModel, FleetReal> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<FleetModel>) => m.nodes.size > 0;
  async run(m: FleetModel, r: FleetReal): Promise<void> {
    const ids = [...m.nodes.keys()].sort();
    const id = ids[this.pick % ids.length];
    r.ring = r.ring.withoutNodes([id]);
    m.nodes.delete(id);
    await expectMatchesModel(m, r);
  }
  toString = () => `withoutNodes(#${this.pick})`;
}

describe.each(ALGORITHMS)('a %s ring through fleet changes', (algorithm) => {
  it('always equals the ring built from scratch for the same nodes', async () => {
    // A small id alphabet makes re-weighting and re-adding the same node frequent.
    const id = fc.oneof(fc.constantFrom('a', 'b', 'c', 'd', 'é', '😀'), nodeId);
    const commands = fc.commands(
      [fc.record({ id, weight }).map((n) => new AddOrReweight(n.weight === undefined ? { id: n.id } : { id: n.id, weight: n.weight })), fc.nat().map((i) => new Remove(i))],
      { maxCommands: 25 },
    );
    await fc.assert(
      fc.asyncProperty(commands, fc.nat({ max: 0xffffffff }), async (cmds, seed) => {
        const ring = await createRing([], { algorithm, seed });
        await fc.asyncModelRun(() => ({ model: { nodes: new Map() }, real: { ring, algorithm, seed } }), cmds);
      }),
      { numRuns: 25 },
    );
  });
});

// --- A key index through adds and deletes -----------------------------------------------------------------------

interface IndexModel {
  keys: Set<string>;
}
interface IndexReal {
  index: KeyIndex;
  prev: Ring;
  next: Ring;
}

class AddKey implements fc.Command<IndexModel, IndexReal> {
  constructor(readonly key: string) {}
  check = () => true;
  run(m: IndexModel, r: IndexReal): void {
    r.index.add(this.key);
    m.keys.add(this.key);
    expect(r.index.has(this.key)).toBe(true);
    expect(r.index.size).toBe(m.keys.size);
  }
  toString = () => `add(${JSON.stringify(this.key)})`;
}

class DeleteKey implements fc.Command<IndexModel, IndexReal> {
  constructor(readonly key: string) {}
  check = () => true;
  run(m: IndexModel, r: IndexReal): void {
    expect(r.index.delete(this.key)).toBe(m.keys.delete(this.key));
    expect(r.index.has(this.key)).toBe(false);
    expect(r.index.size).toBe(m.keys.size);
  }
  toString = () => `delete(${JSON.stringify(this.key)})`;
}

class AskMoved implements fc.Command<IndexModel, IndexReal> {
  check = () => true;
  run(m: IndexModel, r: IndexReal): void {
    expect([...r.index.keys()].sort()).toEqual([...m.keys].sort());
    expect(sortedMoves(r.index.moved(r.prev, r.next))).toEqual(sortedMoves(bruteForceMoved(r.prev, r.next, m.keys)));
  }
  toString = () => 'moved()';
}

describe.each(['ring', 'maglev'] as const)('a key index over %s rings', (algorithm) => {
  it('holds exactly the keys added and not deleted, and reports exactly those of them that moved', async () => {
    const prev = await createRing([{ id: 'a' }, { id: 'b', weight: 2 }, { id: 'c', weight: 0.5 }], { algorithm });
    const next = prev.withoutNodes(['b']).withNodes([{ id: 'd' }, { id: 'c', weight: 3 }]);
    // Few distinct keys, so deletes hit present keys and keys come back after deletion; most of them share
    // an index bucket (top 16 hash bits) with a moved range's edge, where the index compares hashes one by one.
    const key = fc.oneof({ arbitrary: fc.constantFrom(...keysAtRangeEdges(prev, next)), weight: 6 }, { arbitrary: fc.string({ maxLength: 2 }), weight: 1 }, { arbitrary: fc.string({ unit: 'grapheme', maxLength: 1 }), weight: 1 });
    // Adds and deletes twice as often as questions; long sequences, so deletes reshuffle well-filled buckets.
    const add = key.map((k) => new AddKey(k));
    const del = key.map((k) => new DeleteKey(k));
    const commands = fc.commands([add, add, del, del, fc.constant(new AskMoved())], { maxCommands: 100, size: 'max' });
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const model: IndexModel = { keys: new Set() };
        const real: IndexReal = { index: await createKeyIndex(), prev, next };
        fc.modelRun(() => ({ model, real }), cmds);
        // Whatever the sequence ended with, the final state answers exactly too.
        new AskMoved().run(model, real);
      }),
      { numRuns: 20 },
    );
  });
});

/**
 * About 40 keys whose hashes share an index bucket (top 16 hash bits) with an edge of a moved range, where that
 * edge lies well inside the bucket, so the bucket holds keys on both sides of it.
 */
function keysAtRangeEdges(prev: Ring, next: Ring): string[] {
  const edges = new Set<number>();
  for (const m of prev.diff(next)) {
    for (const edge of [m.start, m.end]) {
      const offset = edge % 65536;
      if (edge < 2 ** 32 && offset > 8192 && offset < 57344 && edges.size < 6) edges.add(edge >>> 16);
    }
  }
  const keys: string[] = [];
  for (let i = 0; keys.length < 40 && i < 3_000_000; i++) {
    const k = `u${i}`;
    if (edges.has(prev.hashKey(k) >>> 16)) keys.push(k);
  }
  expect(keys.length).toBe(40);
  return keys;
}
