// NATS goes away for longer than the liveness timeout and comes back: agents keep serving on their last
// topology (nobody is disconnected, nobody is moved) and membership recovers (a later join is seen by all).
import { describe, expect, it } from 'vitest';
import { allOpen, clusterForSuite, health, hold, reconnectFrames, users, waitForAgreement, waitUntil, watchHeartbeats, type Health } from './support.js';

describe('NATS restart, against real agents', () => {
  const suite = clusterForSuite(['n1', 'n2', 'n3']);

  it('disconnects nobody, rebalances nothing, and recovers membership', async () => {
    const { cluster } = suite;
    const before = await waitForAgreement(cluster.agents, 3);
    // Keepalive pings run through the outage: the agents must keep answering them. (Not shorter: a silent
    // second interval drops the connection, and a loaded machine can stall an event loop for a while.)
    const clients = suite.startClients(users(300), cluster.agents, { pingIntervalMs: 1_500 });
    await allOpen(clients);
    const agents = [...cluster.agents];
    const rebalancesBefore = agents.map((a) => a.logs.filter((l) => l.event === 'rebalance').length);

    await cluster.nats.kill();
    await waitUntil(async () => (await Promise.all(agents.map(health))).every((h) => !h.body.membershipConnected), 10_000, 'agents to notice NATS is gone');
    // Down for twice the liveness timeout once noticed: long enough that every heartbeat looks stale.
    await hold(2_000);
    await cluster.nats.restart();
    let healths: Health[] = [];
    await waitUntil(
      async () => (healths = (await Promise.all(agents.map(health))).map((h) => h.body)).every((h) => h.membershipConnected),
      40_000,
      () => `agents to reconnect to NATS: ${JSON.stringify(healths)}; logs: ${agents.map((a) => JSON.stringify(a.logs.filter((l) => /membership|resync|watch/.test(String(l.msg))).slice(-6))).join(' | ')}`,
    );
    // Heartbeats resume: eight of every agent (1.6 s of their time, past a liveness timeout and two settle
    // windows) before anything that would rebalance is looked for.
    const heartbeats = await watchHeartbeats(cluster.nats.url);
    try {
      await Promise.all(agents.map((a) => heartbeats.more(a.id, 8)));
    } finally {
      await heartbeats.close();
    }

    for (const agent of agents) {
      const { status, body } = await health(agent);
      expect(status).toBe(200);
      expect(body.state).toBe('serving');
      expect(body.epoch).toBe(before.topology.epoch);
    }
    expect(agents.map((a) => a.logs.filter((l) => l.event === 'rebalance').length)).toEqual(rebalancesBefore);
    for (const c of clients) {
      expect(c.client.state).toBe('open');
      expect(c.sockets).toHaveLength(1);
      expect(c.sockets[0].closeCode).toBeUndefined();
      expect(reconnectFrames(c)).toEqual([]);
    }

    // Membership works again: a new agent is seen by every old one, and its users move to it.
    await cluster.add('n4');
    const after = await waitForAgreement(cluster.agents, 4);
    await waitUntil(() => clients.every((c) => c.client.node === after.ring.owner(c.user)), 20_000, 'clients on their owners after the join');
  });
});
