import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRing, type Ring } from '@wsring/ring';
import { CloseCode } from '@wsring/protocol';
import { decideAdmission, type AdmissionInput } from '../src/internal.js';

const MAX_PREFS = 9;
const base = (ring: Ring, self: string, userId: string, over: Partial<AdmissionInput> = {}): AdmissionInput => ({
  self,
  draining: false,
  ring,
  epoch: 5,
  knownEpoch: 5,
  userId,
  clientEpoch: 5,
  unreachable: [],
  alreadyHere: false,
  full: false,
  maxPrefs: MAX_PREFS,
  ...over,
});

const cluster = fc.integer({ min: 1, max: 8 }).chain((n) =>
  fc.record({
    ids: fc.constant(Array.from({ length: n }, (_, i) => `n${i}`)),
    weights: fc.array(fc.double({ min: 0.5, max: 3, noNaN: true }), { minLength: n, maxLength: n }),
    user: fc.string({ minLength: 1, maxLength: 16 }),
    unreachableMask: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    entry: fc.nat(n - 1),
  }),
);

describe('admission', () => {
  it('the owner accepts; any other node redirects to a node that accepts: one hop, with or without unreachable nodes', async () => {
    await fc.assert(
      fc.asyncProperty(cluster, async ({ ids, weights, user, unreachableMask, entry }) => {
        const ring = await createRing(ids.map((id, i) => ({ id, weight: weights[i] })));
        const unreachable = ids.filter((_, i) => unreachableMask[i]);
        const self = ids[entry];
        const d = decideAdmission(base(ring, self, user, { unreachable }));
        const prefs = ring.owners(user, Math.min(ids.length, MAX_PREFS));
        if (self === ring.owner(user)) expect(d).toEqual({ kind: 'accept', standIn: false, avoid: [] });
        if (d.kind === 'accept' && d.standIn) {
          // A stand-in only when every node before it is one the client could not reach.
          expect(prefs.slice(0, prefs.indexOf(self)).every((id) => unreachable.includes(id))).toBe(true);
        }
        if (d.kind === 'redirect') {
          expect(d).toMatchObject({ reason: 'not-owner', code: CloseCode.REDIRECT });
          const hop = decideAdmission(base(ring, d.to, user, { unreachable }));
          expect(hop.kind).toBe('accept');
        }
        expect(d.kind).not.toBe('refuse');
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('at capacity a new user is sent to the next node of its list, which accepts it once told the full node is to be avoided', async () => {
    await fc.assert(
      fc.asyncProperty(cluster, async ({ ids, weights, user, unreachableMask }) => {
        const ring = await createRing(ids.map((id, i) => ({ id, weight: weights[i] })));
        const owner = ring.owner(user);
        const unreachable = ids.filter((id, i) => unreachableMask[i] && id !== owner);
        const d = decideAdmission(base(ring, owner, user, { unreachable, full: true }));
        const rest = ring.owners(user, Math.min(ids.length, MAX_PREFS)).slice(1).filter((id) => !unreachable.includes(id));
        if (rest.length === 0) {
          expect(d).toMatchObject({ kind: 'refuse', code: CloseCode.OVER_CAPACITY });
          return;
        }
        expect(d).toMatchObject({ kind: 'redirect', reason: 'capacity', to: rest[0] });
        const spilled = decideAdmission(base(ring, rest[0], user, { unreachable: [...unreachable, owner] }));
        expect(spilled).toMatchObject({ kind: 'accept', standIn: true });
        // A session replacing one of the user's here takes no new slot; a further session of a user here is
        // refused, never spilled (a user's sessions share a node).
        expect(decideAdmission(base(ring, owner, user, { full: true, alreadyHere: true, replacesSession: true })).kind).toBe('accept');
        expect(decideAdmission(base(ring, owner, user, { full: true, alreadyHere: true }))).toMatchObject({ kind: 'refuse', code: CloseCode.OVER_CAPACITY });
      }),
      { seed: 12, numRuns: 200 },
    );
  });

  it('a draining node redirects everyone with DRAINING; a client ahead by an announced epoch is accepted', async () => {
    const full = await createRing([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const withoutA = full.withoutNodes(['a']);
    const user = Array.from({ length: 100 }, (_, i) => `u${i}`).find((u) => full.owner(u) === 'a')!;
    expect(decideAdmission(base(withoutA, 'a', user, { draining: true }))).toMatchObject({ kind: 'redirect', reason: 'draining', code: CloseCode.DRAINING, to: withoutA.owner(user) });
    // Drain started, own ring not yet settled without a: never a redirect to itself.
    expect(decideAdmission(base(full, 'a', user, { draining: true }))).toMatchObject({ kind: 'redirect', reason: 'draining', to: full.owners(user, 2)[1] });
    const alone = await createRing([{ id: 'a' }]);
    expect(decideAdmission(base(alone, 'a', user, { draining: true }))).toMatchObject({ kind: 'refuse', code: CloseCode.DRAINING });
    // b has not applied epoch 6 yet but has seen it announced: it takes a client sent there under epoch 6.
    expect(decideAdmission(base(full, 'b', user, { epoch: 5, knownEpoch: 6, clientEpoch: 6 }))).toMatchObject({ kind: 'accept', standIn: true });
    // An epoch nobody announced is not trusted.
    expect(decideAdmission(base(full, 'b', user, { epoch: 5, knownEpoch: 5, clientEpoch: 99 }))).toMatchObject({ kind: 'redirect', to: 'a' });
  });
});
