// Restart-in-place slots: one per user, shared by all its sessions, spread at the node's accept rate.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClientConnection } from '../src/connections.js';
import { restartSlots } from '../src/restart-in-place.js';

const sessionsOf = (users: number[]) => users.map((u, i) => ({ userId: `u${u}`, sessionId: `s${i}` }) as unknown as ClientConnection);

describe('restartSlots', () => {
  it('gives every session of a user its user\'s slot; users are spaced 1000 / acceptRate ms apart from backInMs', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 200 }), fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 0, max: 60_000 }), (users, acceptRate, backInMs) => {
        const conns = sessionsOf(users);
        const { slots, users: count, spreadMs } = restartSlots(conns, acceptRate, backInMs);
        const distinct = [...new Set(users.map((u) => `u${u}`))];
        expect(count).toBe(distinct.length);
        expect([...slots.keys()]).toEqual(distinct);
        expect(spreadMs).toBe(Math.ceil((distinct.length * 1000) / acceptRate));
        distinct.forEach((user, k) => expect(slots.get(user)).toBe(backInMs + Math.floor((k * 1000) / acceptRate)));
        // Within the accept rate: any k + 1 consecutive users span at least k x 1000 / acceptRate ms, less a ms of rounding.
        const times = [...slots.values()];
        for (let i = 0; i + 1 < times.length; i++) expect(times[i + 1] - times[i]).toBeGreaterThanOrEqual(Math.floor(1000 / acceptRate));
      }),
      { seed: 9, numRuns: 300 },
    );
  });

  it('a user with three sessions takes one slot, not three', () => {
    const { slots, users, spreadMs } = restartSlots(sessionsOf([1, 1, 2, 1, 3]), 10, 1_000);
    expect(users).toBe(3);
    expect(spreadMs).toBe(300);
    expect(Object.fromEntries(slots)).toEqual({ u1: 1_000, u2: 1_100, u3: 1_200 });
  });
});
