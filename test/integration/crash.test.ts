// An agent is killed with SIGKILL: its clients fail over to the next node of their preference list and stay
// there when membership drops the dead node (the stand-in is already the new owner: no second move).
import { describe, expect, it } from 'vitest';
import { allOpen, clusterForSuite, reconnectFrames, users, waitForAgreement, waitUntil, welcomes } from './support.js';

describe('crash, against real agents', () => {
  const suite = clusterForSuite(['n1', 'n2', 'n3']);

  it('fails the dead node\'s clients over to their next node, once', async () => {
    const { cluster } = suite;
    const before = await waitForAgreement(cluster.agents, 3);
    const clients = suite.startClients(users(300), cluster.agents, { backoff: { baseMs: 100, capMs: 2_000 } });
    await allOpen(clients);
    const [victim, ...survivors] = cluster.agents;
    const orphans = clients.filter((c) => c.client.node === victim.id);
    expect(orphans.length).toBeGreaterThan(0);

    await victim.kill('SIGKILL');
    // Wait for the failovers themselves (right after the kill, a client may not have seen its socket die yet).
    await waitUntil(() => orphans.every((c) => c.events.moved!.length > 0), 30_000, () => `every orphan to fail over (${orphans.filter((c) => c.events.moved!.length === 0).length} not)`);
    await allOpen(clients);
    // Every orphan is back, on the second node of its preference list.
    for (const c of orphans) expect(c.client.node).toBe(before.ring.owners(c.user, 2)[1]);

    // Membership notices (liveness 1 s, settle 300 ms), the ring drops the dead node: one rebalance on each
    // survivor, which moves nobody (every orphan's stand-in is now its owner), so no reconnect wave can follow.
    const after = await waitForAgreement(survivors, 2);
    for (const agent of survivors) {
      const rebalance = await agent.waitForLog((l) => l.event === 'rebalance' && l.fingerprint === after.topology.fingerprint, 10_000);
      expect({ node: agent.id, moved: rebalance.moved }).toEqual({ node: agent.id, moved: 0 });
      expect(agent.logs.filter((l) => l.event === 'rebalance' && l.fingerprint === after.topology.fingerprint)).toHaveLength(1);
    }

    for (const c of clients) {
      expect(c.client.state).toBe('open');
      expect(c.client.node).toBe(after.ring.owner(c.user));
      expect(reconnectFrames(c)).toEqual([]);
      if (c.sockets[0].node === victim.id) {
        // Welcomed twice (the dead node, then the stand-in); every socket in between went to the dead node.
        expect(welcomes(c)).toBe(2);
        expect(c.sockets.at(-1)?.node).toBe(after.ring.owner(c.user));
        expect(c.sockets.slice(0, -1).every((s) => s.node === victim.id)).toBe(true);
        expect(c.events.moved).toEqual([{ from: victim.id, to: after.ring.owner(c.user), reason: 'failover' }]);
      } else {
        expect(c.sockets).toHaveLength(1);
        expect(c.sockets[0].closeCode).toBeUndefined();
      }
    }
  });
});
