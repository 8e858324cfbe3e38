// Three real agents, a few hundred real clients; a fourth agent joins. Exactly the users whose owner changed
// are asked to move, at the configured pace, and land on their new owner; nobody else is touched.
import { movedKeys } from '@wsring/ring';
import type { Topology } from '@wsring/client';
import { describe, expect, it } from 'vitest';
import {
  allOpen,
  clusterForSuite,
  fleetKeyFile,
  maxInWindow,
  reconnectFrames,
  topology,
  type TrackedClient,
  users,
  waitForAgreement,
  waitUntil,
  welcomes,
} from './support.js';

const CLIENTS = 300;

/** Everything a client saw, for failure messages. */
const story = (c: TrackedClient) =>
  JSON.stringify({ user: c.user, sockets: c.sockets.map((s) => ({ node: s.node, frames: s.frames.map((f) => f.frame), close: s.closeCode })), events: c.events });
// A slow pace, so the rate limit is what shapes the wave: 10 reconnects/s per agent after a burst of 5. Each
// agent has about 25 users to move, so an unpaced agent would send them all at once and fail the check.
const RATE = 10;
const BURST = 5;

// The fleet signs its topologies and the clients hold its key, so a moved client can trust the topology inside
// its frame and go without a /topology fetch (unsigned, each would confirm the joiner with one: trust.test.ts).
const FLEET = fleetKeyFile();

describe('rebalance on join, against real agents', () => {
  const suite = clusterForSuite(['n1', 'n2', 'n3'], { rate: RATE, burst: BURST, topologyKeyFile: FLEET.keyFile });

  it('puts every client on its owner, then moves exactly the users whose owner changed when a 4th agent joins', async () => {
    const { cluster } = suite;
    const before = await waitForAgreement(cluster.agents, 3);
    // Every /topology request the clients make (the test's own polling of the agents is not counted).
    let topologyFetches = 0;
    const clients = suite.startClients(users(CLIENTS), cluster.agents, {
      topologyKey: FLEET.publicKey,
      fetch: (url, init) => {
        topologyFetches++;
        return fetch(url, init);
      },
    });
    await allOpen(clients);
    expect(topologyFetches).toBe(CLIENTS);

    // 1. Every client lands on its owner, on its first socket.
    for (const c of clients) {
      expect(c.client.node, story(c)).toBe(before.ring.owner(c.user));
      expect(c.sockets).toHaveLength(1);
    }

    // 2. A 4th agent joins.
    const staleTopology: Topology = await topology(cluster.agents[0]);
    await cluster.add('n4', { rate: RATE, burst: BURST });
    const after = await waitForAgreement(cluster.agents, 4);
    const moved = new Map(movedKeys(before.ring, after.ring, clients.map((c) => c.user)).map((m) => [m.key, m]));
    expect(moved.size).toBeGreaterThan(0);
    expect(moved.size).toBeLessThan(CLIENTS);

    await waitUntil(
      () => clients.every((c) => c.client.state === 'open' && c.client.node === after.ring.owner(c.user)),
      30_000,
      () => `every client on its new owner (${clients.filter((c) => c.client.node !== after.ring.owner(c.user)).length} not)`,
    );

    for (const c of clients) {
      const frames = reconnectFrames(c);
      const move = moved.get(c.user);
      if (move) {
        // Asked once, named the new owner (with the topology that lists it), moved once: two sockets, two welcomes.
        expect(frames.map((f) => f.frame)).toEqual([
          expect.objectContaining({ type: 'reconnect', node: move.to, topology: expect.objectContaining({ epoch: after.topology.epoch, fingerprint: after.topology.fingerprint }) }),
        ]);
        expect(c.sockets.map((s) => s.node), story(c)).toEqual([move.from, move.to]);
        expect(welcomes(c)).toBe(2);
        expect(c.events.moved).toEqual([{ from: move.from, to: move.to, reason: 'reconnect' }]);
      } else {
        // Untouched: the original socket, still open, no frame asking it to move.
        expect(frames).toEqual([]);
        expect(c.sockets).toHaveLength(1);
        expect(c.sockets[0].closeCode).toBeUndefined();
        expect(c.events.moved ?? []).toEqual([]);
      }
    }

    // The moved clients went without fetching /topology: the joiner came inside their reconnect frames.
    expect(topologyFetches).toBe(CLIENTS);
    for (const c of clients) expect(c.client.epoch).toBe(moved.has(c.user) ? after.topology.epoch : before.topology.epoch);

    // 7. Reconnect frames never exceed the configured rate, per sending agent: in any window of W seconds at
    // most BURST + RATE * W frames leave an agent. Arrival times carry the loopback and event-loop delays of
    // this process, so the window gets 250 ms of slack.
    const windowMs = 500;
    const bySender = new Map<string, number[]>();
    for (const c of clients) {
      for (const s of c.sockets) for (const f of s.frames) if (f.frame.type === 'reconnect') bySender.set(s.node, [...(bySender.get(s.node) ?? []), f.at]);
    }
    expect([...bySender.values()].reduce((sum, t) => sum + t.length, 0)).toBe(moved.size);
    const peaks = [...bySender].map(([node, times]) => `${node}: ${times.length} sent, peak ${maxInWindow(times, windowMs)}/${windowMs} ms`);
    console.info(`join: ${moved.size}/${CLIENTS} users moved (rate ${RATE}/s, burst ${BURST}); ${peaks.join('; ')}`);
    for (const [node, times] of bySender) {
      const peak = maxInWindow(times, windowMs);
      expect(peak, `agent ${node} sent ${peak} reconnects within ${windowMs} ms`).toBeLessThanOrEqual(BURST + (RATE * (windowMs + 250)) / 1000);
      // The wave was big enough for the pace to matter: more frames than the bound allows at once.
      expect(times.length).toBeGreaterThan(BURST + (RATE * (windowMs + 250)) / 1000);
    }

    // 6. A client holding the topology from before the join (say, fetched just before) is redirected in one
    // hop: the old owner names n4 and sends the topology that lists it along, so the client goes there without
    // a second /topology fetch.
    // A user of its own: a second session of a user already connected would count in the checks below.
    let n = 0;
    while (before.ring.owner(`stale-${n}`) === after.ring.owner(`stale-${n}`)) n++;
    const staleUser = `stale-${n}`;
    let fetches = 0;
    const staleClients = suite.startClients([staleUser], cluster.agents, {
      topologyKey: FLEET.publicKey,
      fetch: async (url, init) => (fetches++ === 0 ? { ok: true, status: 200, json: async () => staleTopology } : fetch(url, init)),
    });
    const stale = staleClients[0];
    await allOpen([stale]);
    expect(stale.sockets.map((s) => s.node), story(stale)).toEqual([before.ring.owner(staleUser), after.ring.owner(staleUser)]);
    expect(stale.sockets[0].frames.map((f) => f.frame.type)).toEqual(['redirect']);
    expect(stale.client.node).toBe(after.ring.owner(staleUser));
    expect(fetches).toBe(1);
    expect(stale.client.epoch).toBe(after.topology.epoch);
    expect(stale.events.moved).toEqual([{ from: before.ring.owner(staleUser), to: after.ring.owner(staleUser), reason: 'redirect' }]);
  });
});
