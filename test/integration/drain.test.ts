// An agent drains (SIGTERM, as a rolling deploy would): only its users move, each after a reconnect frame.
import { describe, expect, it } from 'vitest';
import { allOpen, clusterForSuite, reconnectFrames, users, waitForAgreement, waitUntil, welcomes } from './support.js';

describe('drain, against real agents', () => {
  const suite = clusterForSuite(['n1', 'n2', 'n3'], { rate: 200, burst: 20 });

  it('moves only the draining node\'s users, none without a reconnect frame, and the node exits empty', async () => {
    const { cluster } = suite;
    const before = await waitForAgreement(cluster.agents, 3);
    const clients = suite.startClients(users(300), cluster.agents);
    await allOpen(clients);
    const [draining, ...staying] = cluster.agents;
    const onDraining = clients.filter((c) => c.client.node === draining.id);
    expect(onDraining.length).toBeGreaterThan(0);

    await draining.stop(20_000);
    expect(draining.logs.some((l) => l.event === 'exit' && l.remaining === 0)).toBe(true);
    const after = await waitForAgreement(staying, 2);
    await allOpen(clients);

    for (const c of clients) {
      expect(c.client.node).toBe(after.ring.owner(c.user));
      if (before.ring.owner(c.user) === draining.id) {
        // Its first socket carried a reconnect frame naming the new owner before it closed; one move.
        expect(reconnectFrames(c).map((f) => f.frame)).toEqual([expect.objectContaining({ node: after.ring.owner(c.user) })]);
        expect(c.sockets.map((s) => s.node)).toEqual([draining.id, after.ring.owner(c.user)]);
        expect(c.events.moved).toEqual([{ from: draining.id, to: after.ring.owner(c.user), reason: 'reconnect' }]);
        expect(c.events.reconnecting).toEqual([]);
      } else {
        expect(c.sockets).toHaveLength(1);
        expect(c.sockets[0].closeCode).toBeUndefined();
        expect(welcomes(c)).toBe(1);
      }
    }
    await waitUntil(() => onDraining.every((c) => c.sockets[0].closeCode !== undefined), 5_000, 'old sockets closed');
  });
});
