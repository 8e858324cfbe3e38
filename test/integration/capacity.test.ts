// Bounded load with real agents: a node at its connection limit sends new users on down their preference list,
// and the client marks it so the next node takes it as a stand-in; nobody bounces back and no node overfills.
import { describe, expect, it } from 'vitest';
import { allOpen, clusterForSuite, health, users, waitForAgreement } from './support.js';

const CLIENTS = 240;
const CAPACITY = 85;

describe('capacity spill-over, against real agents', () => {
  const suite = clusterForSuite(['n1', 'n2', 'n3'], { capacity: CAPACITY });

  it('places every client within the limits, spilling the overflow to stand-ins without ping-pong', async () => {
    const { cluster } = suite;
    const { ring } = await waitForAgreement(cluster.agents, 3);
    const names = users(CLIENTS, 'busy');
    const owned = new Map<string, number>();
    for (const u of names) owned.set(ring.owner(u), (owned.get(ring.owner(u)) ?? 0) + 1);
    // The setup overflows at least one node and fits the fleet as a whole.
    expect(Math.max(...owned.values())).toBeGreaterThan(CAPACITY);
    expect(CLIENTS).toBeLessThanOrEqual(3 * CAPACITY);

    const clients = suite.startClients(names, cluster.agents);
    await allOpen(clients);

    const healths = await Promise.all(cluster.agents.map(health));
    for (const h of healths) expect(h.body.connections).toBeLessThanOrEqual(CAPACITY);
    expect(healths.reduce((sum, h) => sum + h.body.connections, 0)).toBe(CLIENTS);
    // A full node tells load balancers so, and the overflowing owner did fill up.
    expect(healths.some((h) => h.body.connections === CAPACITY)).toBe(true);
    for (const h of healths) expect(h.status).toBe(h.body.connections === CAPACITY ? 503 : 200);

    let spilled = 0;
    for (const c of clients) {
      const path = c.sockets.map((s) => s.node);
      // Never sent back to a node it already left, and welcomed exactly once.
      expect(new Set(path).size, path.join(' > ')).toBe(path.length);
      expect(c.sockets.filter((s) => s.welcomed)).toHaveLength(1);
      const open = c.events.open ?? [];
      if (c.client.node !== ring.owner(c.user)) {
        spilled++;
        expect(open.at(-1)?.standIn).toBe(true);
        expect(path[0]).toBe(ring.owner(c.user));
        expect(c.sockets[0].frames.map((f) => f.frame)).toEqual([expect.objectContaining({ type: 'redirect', reason: 'capacity' })]);
      }
    }
    expect(spilled).toBeGreaterThan(0);
  });
});
