// Convergence: users left on a stand-in (their owner was unreachable or full when they connected) go back to
// their owner once it has served long enough and has room, paced like any move; one that bounces waits twice
// as long next time. Real agents over one MemoryMembership and raw sockets, all on one ManualClock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, MemoryMembership, type Agent, type AgentOptions } from '../src/mod.js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { driveUntil, pass } from '../../../test/support/drive.js';
import { openClient, type RawClient } from './helpers.js';

const CONVERGE = 2_000;
const TIMING = { heartbeatMs: 100, livenessTimeoutMs: 3_000, settleMs: 200, host: '127.0.0.1', convergeAfterMs: CONVERGE, delivery: false } satisfies Partial<AgentOptions>;

const clock = new ManualClock(1_000_000);
const store = new MemoryMembership(() => clock.now());
const agents = new Map<string, Agent>();
const open: RawClient[] = [];

const urlOf = (id: string) => `ws://127.0.0.1:${agents.get(id)!.port}/ws`;
const ring = () => agents.get('a0')!.topology.ring;

/** A user whose owner is `owner`, connected to its second choice as a stand-in that reports the owner unreachable. */
async function standIn(owner: string, from = 0): Promise<{ user: string; second: string; client: RawClient }> {
  for (let i = from; ; i++) {
    const user = `user-${i}`;
    const [first, second] = ring().owners(user, 2);
    if (first !== owner) continue;
    const client = openClient(urlOf(second), { user, unreachable: [owner], epoch: agents.get(second)!.topology.epoch });
    open.push(client);
    await driveUntil(clock, () => client.frames.some((f) => f.type === 'welcome'), { what: `${user} welcomed` });
    expect(client.frames[0]).toMatchObject({ type: 'welcome', node: second, standIn: true });
    return { user, second, client };
  }
}

beforeAll(async () => {
  for (const id of ['a0', 'a1', 'a2']) agents.set(id, await createAgent({ id, membership: store, clock, ...TIMING, capacity: id === 'a2' ? 10 : 10_000 }));
  await driveUntil(clock, () => [...agents.values()].every((a) => a.topology.ring.nodes.length === 3), { what: 'three agents agree' });
  // Past the restart window: a stand-in now fled a process that had long been serving (not a restart).
  await pass(clock, 1_000);
});

afterAll(async () => {
  for (const c of open) c.ws.terminate();
  await Promise.all([...agents.values()].map((a) => a.close()));
});

describe('convergence', () => {
  it('a stand-in goes back to its owner once the owner has served convergeAfterMs, not before; a bounce doubles the wait', async () => {
    const { user, second, client } = await standIn('a0');
    const reconnect = () => client.frames.find((f) => f.type === 'reconnect');
    await pass(clock, CONVERGE * 0.8);
    expect(reconnect()).toBeUndefined();
    const waited = await driveUntil(clock, () => reconnect() !== undefined, { what: 'the stand-in is sent back', maxMs: CONVERGE * 2 });
    expect(reconnect()).toMatchObject({ type: 'reconnect', node: 'a0' });
    expect(CONVERGE * 0.8 + waited).toBeGreaterThanOrEqual(CONVERGE);
    // It bounces: the owner is still unreachable from where it is, so it comes back as a stand-in.
    client.ws.close();
    const again = openClient(urlOf(second), { user, unreachable: ['a0'], epoch: agents.get(second)!.topology.epoch });
    open.push(again);
    await driveUntil(clock, () => again.frames.some((f) => f.type === 'welcome'), { what: 'welcomed again' });
    await pass(clock, CONVERGE * 1.5);
    expect(again.frames.some((f) => f.type === 'reconnect')).toBe(false);
    await driveUntil(clock, () => again.frames.some((f) => f.type === 'reconnect'), { what: 'sent back after twice the wait', maxMs: CONVERGE * 3 });
  });

  it('an owner near its capacity does not take stand-ins back (hysteresis below the spill-over threshold)', async () => {
    // a2 has capacity 10: fill it to 9 of its own users (90%).
    const owned: RawClient[] = [];
    for (let i = 1_000; owned.length < 9; i++) {
      const user = `user-${i}`;
      if (ring().owner(user) !== 'a2') continue;
      const c = openClient(urlOf('a2'), { user, epoch: agents.get('a2')!.topology.epoch });
      owned.push(c);
      open.push(c);
    }
    await driveUntil(clock, () => agents.get('a2')!.connections === 9, { what: 'a2 holds 9' });
    const { client } = await standIn('a2', 5_000);
    await pass(clock, CONVERGE * 3);
    expect(client.frames.some((f) => f.type === 'reconnect')).toBe(false);
    // Room again: two of its users leave; the stand-in goes home.
    owned[0].ws.close();
    owned[1].ws.close();
    await driveUntil(clock, () => client.frames.some((f) => f.type === 'reconnect'), { what: 'sent back once a2 has room', maxMs: CONVERGE * 3 });
    expect(client.frames.find((f) => f.type === 'reconnect')).toMatchObject({ node: 'a2' });
  });
});
