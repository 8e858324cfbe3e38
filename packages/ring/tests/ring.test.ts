import { describe, expect, it } from 'vitest';
import { createKeyIndex, createRing, loadRing, movedKeys, RingError } from '../src/mod.js';

const keys = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);
const nodes = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `node-${i}` }));

describe.each(['ring', 'maglev', 'rendezvous'] as const)('%s', (algorithm) => {
  it('places every key on a node of the ring, deterministically', async () => {
    const a = await createRing(nodes(10), { algorithm });
    const b = await createRing([...nodes(10)].reverse(), { algorithm });
    expect(a.fingerprint).toBe(b.fingerprint);
    for (const k of keys.slice(0, 1000)) {
      expect(a.owner(k)).toBe(b.owner(k));
      expect(a.nodes.map((n) => n.id)).toContain(a.owner(k));
    }
  });

  it('round-trips through toJSON/loadRing', async () => {
    const a = await createRing([{ id: 'a', weight: 2, meta: { url: 'ws://a' } }, { id: 'b', weight: 0.5 }], { algorithm });
    const b = await loadRing(JSON.parse(JSON.stringify(a.toJSON())));
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(b.nodes).toEqual(a.nodes);
    for (const k of keys.slice(0, 2000)) expect(b.owner(k)).toBe(a.owner(k));
  });

  it('leaves the original ring unchanged by withNodes/withoutNodes', async () => {
    const a = await createRing(nodes(5), { algorithm });
    const before = keys.map((k) => a.owner(k));
    a.withNodes([{ id: 'x' }]);
    a.withoutNodes(['node-1']);
    expect(keys.map((k) => a.owner(k))).toEqual(before);
  });

  it('finds the moved keys through the index exactly as movedKeys does', async () => {
    const a = await createRing(nodes(7), { algorithm });
    const b = a.withNodes([{ id: 'node-new', weight: 1.5 }]).withoutNodes(['node-3']);
    const index = await createKeyIndex(keys);
    const viaIndex = index.moved(a, b).sort((x, y) => (x.key < y.key ? -1 : 1));
    const brute = movedKeys(a, b, keys).sort((x, y) => (x.key < y.key ? -1 : 1));
    expect(viaIndex).toEqual(brute);
    expect(brute.length).toBeGreaterThan(0);
  });
});

describe('errors', () => {
  const code = async (p: Promise<unknown> | (() => unknown)) => {
    try {
      await (typeof p === 'function' ? p() : p);
    } catch (e) {
      expect(e).toBeInstanceOf(RingError);
      return (e as RingError).code;
    }
    return 'no error';
  };

  it('names the problem with a typed error', async () => {
    expect(await code(createRing([{ id: '' }]))).toBe('EMPTY_ID');
    expect(await code(createRing([{ id: 'a' }, { id: 'a' }]))).toBe('DUPLICATE_ID');
    expect(await code(createRing([{ id: 'a', weight: 0 }]))).toBe('INVALID_WEIGHT');
    expect(await code(createRing([{ id: 'a', weight: NaN }]))).toBe('INVALID_WEIGHT');
    expect(await code(createRing([{ id: 'a', weight: -1 }]))).toBe('INVALID_WEIGHT');
    expect(await code(createRing([{ id: 'a' }], { algorithm: 'nope' as never }))).toBe('UNKNOWN_ALGORITHM');
    expect(await code(loadRing({ version: 2 } as never))).toBe('MALFORMED_SNAPSHOT');
    expect(await code(loadRing({ version: 1, algorithm: 'ring', seed: 0, nodes: [{ id: 5 }] } as never))).toBe('MALFORMED_SNAPSHOT');
    const r = await createRing(nodes(3));
    expect(await code(() => r.owners('k', 0))).toBe('INVALID_COUNT');
    expect(await code(() => r.withoutNodes(['zzz']))).toBe('UNKNOWN_ID');
    const empty = await createRing([]);
    expect(await code(() => empty.owner('k'))).toBe('EMPTY_RING');
    const rv = await createRing(nodes(3), { algorithm: 'rendezvous' });
    expect(await code(() => rv.diff(rv))).toBe('NO_RANGES');
  });

  it('keeps the code out of the message, like the project\'s other errors', async () => {
    const error = await createRing([{ id: 'a' }, { id: 'a' }]).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'RingError', code: 'DUPLICATE_ID', message: 'node id "a" appears twice' });
  });

  it('says so when withNodes or withoutNodes is given something other than an array', async () => {
    const r = await createRing(nodes(3));
    const cases: [() => unknown, RegExp][] = [
      [() => r.withNodes({ id: 'x' } as never), /^withNodes\(\) needs an array of nodes, got an object$/],
      [() => r.withNodes('x' as never), /^withNodes\(\) needs an array of nodes, got a string$/],
      [() => r.withNodes(undefined as never), /^withNodes\(\) needs an array of nodes, got undefined$/],
      // A string is iterable: without the check, withoutNodes('n1') would try to drop nodes 'n' and '1'.
      [() => r.withoutNodes('n1' as never), /^withoutNodes\(\) needs an array of ids, got a string$/],
      [() => r.withoutNodes(new Set(['n1']) as never), /^withoutNodes\(\) needs an array of ids, got an object$/],
      [() => r.withoutNodes(null as never), /^withoutNodes\(\) needs an array of ids, got null$/],
    ];
    for (const [call, message] of cases) {
      expect(call).toThrow(message);
      expect(await code(call)).toBe('INVALID_ID');
    }
  });
});
