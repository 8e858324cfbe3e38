import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createKeyIndex, createRing, movedKeys, type Algorithm, type NodeSpec } from '@wsring/ring';
import { planMoves } from '../src/internal.js';

const nodeIds = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { minLength: 2, maxLength: 12 });
const weight = fc.double({ min: 0.25, max: 4, noNaN: true });

describe('planner', () => {
  it('moves exactly the local users whose owner changed away from this node (vs movedKeys brute force)', async () => {
    await fc.assert(
      fc.asyncProperty(
        nodeIds,
        fc.array(weight, { minLength: 12, maxLength: 12 }),
        fc.constantFrom<Algorithm>('ring', 'maglev', 'rendezvous'),
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 0, maxLength: 400 }),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(),
        async (ids, weights, algorithm, users, change, pick) => {
          const specs: NodeSpec[] = ids.map((id, i) => ({ id, weight: weights[i] }));
          const prev = await createRing(specs.slice(0, -1), { algorithm });
          // A join, a leave, a re-weight, or a join and a leave together.
          const joiner = specs[specs.length - 1];
          const victim = specs[pick % (specs.length - 1)];
          const next =
            change === 0 ? prev.withNodes([joiner])
            : change === 1 && specs.length > 2 ? prev.withoutNodes([victim.id])
            : change === 2 ? prev.withNodes([{ id: victim.id, weight: (victim.weight ?? 1) * 2 }])
            : specs.length > 2 ? prev.withNodes([joiner]).withoutNodes([victim.id]) : prev.withNodes([joiner]);
          for (const self of prev.nodes.map((n) => n.id)) {
            const local = users.filter((u) => prev.owner(u) === self);
            const index = await createKeyIndex(local);
            const plan = planMoves({ self, prev, next, index, standIns: new Map() });
            const expected = movedKeys(prev, next, local).filter((m) => m.to !== self).map((m) => `${m.key}>${m.to}`).sort();
            expect(plan.moves.map((m) => `${m.userId}>${m.to}`).sort()).toEqual(expected);
          }
        },
      ),
      { seed: 7, numRuns: 60 },
    );
  });

  it('keeps a stand-in while its owner is one it must avoid, moves it once that owner is gone', async () => {
    const ring = await createRing([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const user = users.find((u) => ring.owners(u, 2)[0] === 'a' && ring.owners(u, 2)[1] === 'b')!;
    const index = await createKeyIndex([user]);
    const standIns = new Map([[user, new Set(['a'])]]);
    // b holds the user for a (unreachable); a is still in the ring: no move.
    expect(planMoves({ self: 'b', prev: ring, next: ring.withNodes([{ id: 'd', weight: 0.01 }]), index, standIns }).moves).toEqual([]);
    // Membership drops a: the user's owner is now b, so it is promoted, not moved.
    const without = ring.withoutNodes(['a']);
    const plan = planMoves({ self: 'b', prev: ring, next: without, index, standIns });
    expect(plan.moves).toEqual([]);
    expect(plan.promoted).toEqual([user]);
  });

  it('moves every local user of a node leaving the ring', async () => {
    const ring = await createRing([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const users = Array.from({ length: 500 }, (_, i) => `u${i}`).filter((u) => ring.owner(u) === 'a');
    const next = ring.withoutNodes(['a']);
    const plan = planMoves({ self: 'a', prev: ring, next, index: await createKeyIndex(users), standIns: new Map() });
    expect(plan.moves.length).toBe(users.length);
    for (const m of plan.moves) expect(m.to).toBe(next.owner(m.userId));
  });
});
