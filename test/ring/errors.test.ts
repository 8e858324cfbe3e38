// Bad input gives a RingError naming the problem, never another exception, a hang, or a ring that answers nonsense.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKeyIndex, createRing, loadRing, movedKeys, RingError, type Algorithm, type RingErrorCode, type RingSnapshot } from '@wsring/ring';
import { ALGORITHMS, nodesOf, seed, topology } from './support.js';

/** Runs `f`; returns 'ok', or the RingError code. Any other exception fails the test with its message. */
async function outcome(f: () => unknown): Promise<'ok' | RingErrorCode> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    if (e instanceof RingError) return e.code;
    throw new Error(`not a RingError: ${String(e)}`, { cause: e });
  }
}

const garbage = fc.anything({ withBigInt: true, withNullPrototype: true, withBoxedValues: true, withSparseArray: true, withTypedArray: true, withMap: true, withSet: true, withDate: true });

describe('fuzzed input', () => {
  it('createRing with arbitrary nodes and options throws only RingError, and a ring it returns works', async () => {
    const nodes = fc.oneof(garbage, fc.array(fc.oneof(garbage, fc.record({ id: fc.oneof(fc.string(), garbage), weight: garbage, meta: garbage }, { requiredKeys: ['id'] }))));
    const options = fc.oneof(fc.constant(undefined), garbage, fc.record({ algorithm: fc.oneof(fc.constantFrom(...ALGORITHMS), garbage), seed: garbage, pointsPerWeight: garbage, tableSize: garbage }, { requiredKeys: [] }));
    await fc.assert(
      fc.asyncProperty(nodes, options, async (n, o) => {
        let ring: Awaited<ReturnType<typeof createRing>> | undefined;
        await outcome(async () => { ring = await createRing(n as never, o as never); });
        if (ring && ring.nodes.length > 0) {
          const ids = new Set(ring.nodes.map((x) => x.id));
          expect(ids.has(ring.owner('some-user'))).toBe(true);
          expect(ring.owners('some-user', 2).every((id) => ids.has(id))).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('loadRing with arbitrary snapshots, and valid ones with one field corrupted, throws only MALFORMED_SNAPSHOT', async () => {
    const snapshot = fc.oneof(
      garbage,
      fc.record({ version: fc.oneof(fc.constant(1), garbage), algorithm: fc.oneof(fc.constantFrom(...ALGORITHMS), garbage), seed: fc.oneof(seed, garbage), pointsPerWeight: garbage, tableSize: garbage, nodes: fc.oneof(fc.array(garbage), garbage) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(snapshot, async (s) => {
        expect(['ok', 'MALFORMED_SNAPSHOT']).toContain(await outcome(() => loadRing(s as never)));
      }),
      { numRuns: 400 },
    );
  });

  it('owners, withNodes and withoutNodes with arbitrary arguments throw only RingError', async () => {
    const ring = await createRing([{ id: 'a' }, { id: 'b', weight: 2 }, { id: 'c', weight: 0.5 }]);
    await fc.assert(
      fc.asyncProperty(garbage, garbage, async (x, y) => {
        await outcome(() => ring.owners('k', x as never));
        await outcome(() => ring.withNodes(x as never));
        await outcome(() => ring.withNodes([x, y] as never));
        await outcome(() => ring.withoutNodes(x as never));
        await outcome(() => ring.withoutNodes([x] as never));
      }),
      { numRuns: 300 },
    );
  });
});

describe('each defect has its code', () => {
  const build = (nodes: unknown, options?: unknown) => () => createRing(nodes as never, options as never);
  const algorithm = fc.constantFrom<Algorithm>(...ALGORITHMS);

  it('empty, non-string and duplicate ids', async () => {
    await fc.assert(
      fc.asyncProperty(topology(30), algorithm, fc.nat(), async (nodes, a, at) => {
        const i = at % nodes.length;
        const withId = (id: unknown) => nodes.map((n, j) => (j === i ? { ...n, id } : n));
        expect(await outcome(build(withId(''), { algorithm: a }))).toBe('EMPTY_ID');
        expect(await outcome(build(withId(7), { algorithm: a }))).toBe('INVALID_ID');
        expect(await outcome(build([...nodes, { id: nodes[i].id, weight: 2 }], { algorithm: a }))).toBe('DUPLICATE_ID');
        const ring = await createRing(nodes, { algorithm: a });
        expect(await outcome(() => ring.withNodes([{ id: 'x-dup' }, { id: 'x-dup' }]))).toBe('DUPLICATE_ID');
        expect(await outcome(() => ring.withoutNodes(['no such node id']))).toBe('UNKNOWN_ID');
      }),
      { numRuns: 20 },
    );
  });

  it('weights that are not finite numbers > 0', async () => {
    const bad = fc.oneof(fc.constantFrom(0, -0, -1, NaN, Infinity, -Infinity, '1', null, true), fc.double({ max: 0 }));
    await fc.assert(
      fc.asyncProperty(topology(30), algorithm, bad, async (nodes, a, w) => {
        expect(await outcome(build([...nodes, { id: 'x-weight', weight: w }], { algorithm: a }))).toBe('INVALID_WEIGHT');
        const ring = await createRing(nodes, { algorithm: a });
        expect(await outcome(() => ring.withNodes([{ id: nodes[0].id, weight: w as number }]))).toBe('INVALID_WEIGHT');
      }),
      { numRuns: 30 },
    );
  });

  it('weights so large the ring cannot hold their points', async () => {
    for (const weight of [1e9, 2 ** 32 / 160, 1e300, Number.MAX_VALUE]) {
      expect(await outcome(build([{ id: 'a' }, { id: 'b', weight }]))).toBe('INVALID_WEIGHT');
    }
  });

  it('preference list lengths that are not integers >= 1', async () => {
    const bad = fc.oneof(fc.integer({ max: 0 }), fc.double().filter((d) => !Number.isInteger(d)), fc.constantFrom(NaN, Infinity, '2', null));
    await fc.assert(
      fc.asyncProperty(nodesOf(3), algorithm, bad, async (nodes, a, n) => {
        const ring = await createRing(nodes, { algorithm: a });
        expect(await outcome(() => ring.owners('k', n as number))).toBe('INVALID_COUNT');
      }),
      { numRuns: 30 },
    );
  });

  it('keys that are not strings', async () => {
    const notString = garbage.filter((k) => typeof k !== 'string');
    await fc.assert(
      fc.asyncProperty(nodesOf(3), algorithm, notString, async (nodes, a, key) => {
        const ring = await createRing(nodes, { algorithm: a });
        const index = await createKeyIndex();
        expect(await outcome(() => ring.owner(key as string))).toBe('INVALID_KEY');
        expect(await outcome(() => ring.owners(key as string, 2))).toBe('INVALID_KEY');
        expect(await outcome(() => ring.hashKey(key as string))).toBe('INVALID_KEY');
        expect(await outcome(() => movedKeys(ring, ring, [key as string]))).toBe('INVALID_KEY');
        expect(await outcome(() => index.add(key as string))).toBe('INVALID_KEY');
      }),
      { numRuns: 30 },
    );
  });

  it('unknown algorithms and out-of-range options', async () => {
    expect(await outcome(build([{ id: 'a' }], { algorithm: 'jump' }))).toBe('UNKNOWN_ALGORITHM');
    for (const s of [-1, 1.5, 2 ** 32, NaN, '0']) expect(await outcome(build([{ id: 'a' }], { seed: s }))).toBe('INVALID_OPTION');
    for (const p of [0, -1, NaN, Infinity, 2 ** 17]) expect(await outcome(build([{ id: 'a' }], { pointsPerWeight: p }))).toBe('INVALID_OPTION');
    for (const t of [1, 4, 65536, 2 ** 31 - 1, 1.5]) expect(await outcome(build([{ id: 'a' }], { algorithm: 'maglev', tableSize: t }))).toBe('INVALID_OPTION');
    expect(await outcome(build([{ id: 'a' }, { id: 'b' }, { id: 'c' }], { algorithm: 'maglev', tableSize: 2 }))).toBe('TOO_MANY_NODES');
  });

  it('an empty ring refuses lookups; rendezvous and mixed seeds refuse diff', async () => {
    for (const a of ALGORITHMS) {
      const empty = await createRing([], { algorithm: a });
      expect(await outcome(() => empty.owner('k'))).toBe('EMPTY_RING');
      expect(await outcome(() => empty.owners('k', 1))).toBe('EMPTY_RING');
    }
    const rv = await createRing([{ id: 'a' }], { algorithm: 'rendezvous' });
    const ring = await createRing([{ id: 'a' }]);
    expect(await outcome(() => rv.diff(ring))).toBe('NO_RANGES');
    expect(await outcome(() => ring.diff(rv))).toBe('NO_RANGES');
    expect(await outcome(async () => ring.diff(await createRing([{ id: 'a' }], { seed: 1 })))).toBe('NO_RANGES');
  });

  it('snapshots with one field corrupted', async () => {
    const corrupt: [string, (s: RingSnapshot) => unknown][] = [
      ['version', (s) => ({ ...s, version: 2 })],
      ['no version', ({ version: _, ...s }) => s],
      ['algorithm', (s) => ({ ...s, algorithm: 'jump' })],
      ['no seed', ({ seed: _, ...s }) => s],
      ['seed', (s) => ({ ...s, seed: -1 })],
      ['nodes', (s) => ({ ...s, nodes: {} })],
      ['node', (s) => ({ ...s, nodes: [...s.nodes, 'x'] })],
      ['weight', (s) => ({ ...s, nodes: [{ ...s.nodes[0], weight: 0 }] })],
      ['duplicate', (s) => ({ ...s, nodes: [...s.nodes, s.nodes[0]] })],
      ['meta', (s) => ({ ...s, nodes: [{ ...s.nodes[0], meta: { url: 5 } }] })],
      ['pointsPerWeight', (s) => ({ ...s, pointsPerWeight: -3 })],
      ['tableSize', (s) => ({ ...s, tableSize: 100 })],
      ['null', () => null],
      ['array', (s) => [s]],
    ];
    await fc.assert(
      fc.asyncProperty(nodesOf(4), algorithm, fc.constantFrom(...corrupt), async (nodes, a, [, f]) => {
        const snapshot = (await createRing(nodes, { algorithm: a })).toJSON();
        expect(await outcome(() => loadRing(f(snapshot) as never))).toBe('MALFORMED_SNAPSHOT');
      }),
      { numRuns: 60 },
    );
  });
});
