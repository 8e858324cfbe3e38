// A deploy that keeps the node: the old process asks the fleet to hold its place, tells each of its users to come
// back to it after the restart (each at its own slot, spread at the node's accept rate) and stops; the next process
// with the same id and port takes them back. Each of its users reconnects once, to the same node; nobody else is
// touched; the ring and the epoch never change. Real agents over one MemoryMembership, real @wsring/client
// instances over loopback, all on one ManualClock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentOptions } from '../src/mod.js';
import { driveUntil, pass } from '../../../test/support/drive.js';
import { worstExcess } from '../../../test/support/rate-window.js';
import { LoopbackFleet, type TrackedClient } from './loopback-fleet.js';

const ACCEPT = 20;
const BACK_IN = 2_000;
const TIMING = { heartbeatMs: 100, livenessTimeoutMs: 1_000, settleMs: 200, host: '127.0.0.1', acceptRate: ACCEPT, delivery: false } satisfies Partial<AgentOptions>;
const USERS = 45;

const fleet = new LoopbackFleet(TIMING);
const { clock, agents, clients } = fleet;
/** Second sessions (tabs) of some users: a user's sessions share one slot. */
const tabs = new Map<string, TrackedClient>();
const running = () => fleet.running();
const ring = () => fleet.ring();
const settled = () => fleet.settled();

beforeAll(() => fleet.up(['a0', 'a1', 'a2'], USERS));

afterAll(async () => {
  for (const { client } of tabs.values()) client.close();
  await fleet.stop();
});

describe('restart in place', () => {
  it('each user of the node reconnects once, to the same node, spread at its accept rate; nobody else is touched; the ring and epoch stay', async () => {
    const before = ring();
    const epoch = running()[0].topology.epoch;
    const onA1 = [...clients.keys()].filter((user) => before.owner(user) === 'a1');
    expect(onA1.length).toBeGreaterThan(8);
    // Three users of the node open a second session: all sessions of a user come back at one slot, and the accept rate counts users.
    for (const user of onA1.slice(0, 3)) tabs.set(user, fleet.client(user));
    await driveUntil(clock, () => [...tabs.values()].every((t) => t.client.state === 'open' && t.client.node === 'a1'), { what: 'the second sessions open on a1' });
    expect(agents.get('a1')!.connections).toBe(onA1.length + tabs.size);
    fleet.resetCounts();
    for (const t of tabs.values()) t.opens = [];
    const old = agents.get('a1')!;
    const port = old.port!;
    const stoppedAt = clock.now();
    const { users, spreadMs } = await old.restartInPlace({ backInMs: BACK_IN });
    agents.delete('a1');
    expect(users).toBe(onA1.length);
    expect(spreadMs).toBe(Math.ceil((onA1.length * 1000) / ACCEPT));
    // The next process comes up on the same port well before its users are due; the fleet held its place meanwhile.
    await pass(clock, BACK_IN / 2);
    agents.set('a1', await fleet.start('a1', { port }));
    await driveUntil(clock, settled, { what: 'every client back on its owner', maxMs: BACK_IN + spreadMs + 5_000 });
    await driveUntil(clock, () => [...tabs.values()].every((t) => t.client.state === 'open' && t.opens.length > 0), { what: 'the second sessions back' });
    await pass(clock, TIMING.livenessTimeoutMs * 2);
    expect(settled()).toBe(true);
    // A user's sessions came back together, at its one slot.
    for (const [user, t] of tabs) expect({ user, opens: t.opens, node: t.client.node }).toEqual({ user, opens: clients.get(user)!.opens, node: 'a1' });

    expect(ring().fingerprint).toBe(before.fingerprint);
    for (const a of running()) expect(a.topology.epoch).toBe(epoch);
    const arrivals: number[] = [];
    for (const [user, t] of clients) {
      if (onA1.includes(user)) {
        // Once, to the same node: no failover, no move; not before its node's restart was due.
        expect({ user, opens: t.opens.map((o) => o.node), moves: t.moves, node: t.client.node }).toEqual({ user, opens: ['a1'], moves: [], node: 'a1' });
        expect(t.opens[0].at - stoppedAt).toBeGreaterThanOrEqual(BACK_IN);
        arrivals.push(t.opens[0].at);
      } else {
        expect({ user, opens: t.opens.length, moves: t.moves }, `${user} keeps its socket`).toEqual({ user, opens: 0, moves: [] });
      }
    }
    // The returning users arrive within the node's accept rate (one slot each, plus one).
    expect(worstExcess(arrivals.sort((a, b) => a - b), ACCEPT)).toBeLessThanOrEqual(2 + 1e-9);
  });
});
