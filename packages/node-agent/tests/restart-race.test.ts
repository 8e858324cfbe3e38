// The edge of a restart: a client that failed against a node a moment before its new process served
// reaches the next node only after that node has seen the new process active. It is still sent back.
// A client that reports a node unreachable long after that node began serving stays where it is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ring } from '@wsring/ring';
import { createAgent, MemoryMembership, type Agent, type AgentOptions, type MemberRecord } from '../src/mod.js';
import { FollowingClient } from './helpers.js';
import { ProcessLine } from '../src/testing/mod.js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { driveUntil, pass } from '../../../test/support/drive.js';

const TIMING = { heartbeatMs: 500, livenessTimeoutMs: 5_000, settleMs: 200, host: '127.0.0.1' } satisfies Partial<AgentOptions>;

// Agents on a manual clock: the restart window and heartbeats move only as the test says.
const clock = new ManualClock(1_000_000);
const store = new MemoryMembership(() => clock.now());
const agents = new Map<string, { agent: Agent; line: ProcessLine }>();
const followers: FollowingClient[] = [];
/** Listeners to every member record written; the agents, subscribed earlier, have seen each record before them. */
const onRecord = new Set<(r: MemberRecord) => void>();

const start = async (id: string, port = 0) => {
  const line = new ProcessLine(store);
  const agent = await createAgent({ id, membership: line, port, clock, ...TIMING, pacing: { ratePerSec: 100, burst: 10, jitterMs: 0 } });
  agents.set(id, { agent, line });
  return agent;
};
const urlOf = (id: string) => agents.get(id)!.agent.url;

/** A user whose preference list starts a0, a1. */
function userFor(ring: Ring, taken: string[]): string {
  for (let i = 0; ; i++) {
    const user = `race-${i}`;
    if (!taken.includes(user) && ring.owners(user, 2).join() === 'a0,a1') return user;
  }
}

beforeAll(async () => {
  for (const id of ['a0', 'a1', 'a2']) await start(id);
  await driveUntil(clock, () => [...agents.values()].every(({ agent }) => agent.topology.ring.nodes.length === 3 && agent.topology.nodes.every((n) => n.state === 'active')), { what: 'three active agents' });
  await store.watch((e) => {
    if (e.type === 'put') for (const l of onRecord) l(e.record);
  });
});

afterAll(async () => {
  for (const f of followers) f.close();
  await Promise.all([...agents.values()].map(({ agent }) => agent.close()));
});

describe('stand-ins and a process that has only just begun serving', () => {
  it('a stand-in that arrives just after the restarted node serves goes back to it; one that arrives later stays', async () => {
    const ring = agents.get('a1')!.agent.topology.ring;
    const early = userFor(ring, []);
    const late = userFor(ring, [early]);
    const epoch = agents.get('a1')!.agent.topology.epoch;

    // a0 crashes (its record stays) and comes back on its port under a new start time. The moment a1 has
    // seen the new process active, a client arrives there saying a0 failed it (the old process did).
    const old = agents.get('a0')!;
    const port = old.agent.port!;
    old.line.dead = true;
    await old.agent.close();
    const e = new FollowingClient(early, urlOf);
    followers.push(e);
    const arrived = new Promise<void>((resolve, reject) => {
      const listener = (r: MemberRecord) => {
        if (r.id !== 'a0' || r.state !== 'active') return;
        onRecord.delete(listener);
        e.connect(urlOf('a1'), { unreachable: ['a0'] }).then(resolve, reject);
      };
      onRecord.add(listener);
    });
    await start('a0', port);
    await arrived;
    expect(e.welcomedOn).toEqual(['a1']);
    await driveUntil(clock, () => e.node === 'a0', { what: `${early} back on a0` });
    expect(e.reconnects.map((r) => r.node)).toEqual(['a0']);

    // Well after a0 began serving, a client that cannot reach it (a partition, or a0 full) is held by a1 and stays.
    const l = new FollowingClient(late, urlOf);
    followers.push(l);
    await l.connect(urlOf('a1'), { unreachable: ['a0'] });
    expect(l.welcomedOn).toEqual(['a1']);
    // Three of a0's heartbeats reach a1: none may send it back (a1 queues nothing, sends nothing).
    const a1 = agents.get('a1')!.agent;
    const sent: number[] = [];
    a1.on('rebalance-sent', (e) => sent.push(e.sent));
    let heartbeats = 0;
    onRecord.add((r) => void (r.id === 'a0' && heartbeats++));
    await driveUntil(clock, () => heartbeats >= 3, { what: "three of a0's heartbeats" });
    await pass(clock, TIMING.heartbeatMs / 2);
    expect(sent).toEqual([]);
    expect({ node: l.node, reconnects: l.reconnects }).toEqual({ node: 'a1', reconnects: [] });
    // The restart changed no ring.
    for (const { agent } of agents.values()) expect(agent.topology.epoch).toBe(epoch);
  });
});
