// Moves that never overload a receiver, against real processes: a real nats-server, agents as child processes (the
// wsring-agent CLI), @wsring/client instances over real sockets. A join with several senders stays within the
// joiner's accept rate; a handoff deploy moves each user of the node once, to the successor, and nobody else; a
// restart in place brings each user of the node back once, to it, and touches nobody else; a drain at the defaults
// finishes within its deadline with every user moved once. Arrival rates are measured at the clients (welcome
// frames) and compared with the bound plus a little for the measurement itself; figures are printed.
import { describe, expect, it } from 'vitest';
import { loadRing } from '@wsring/ring';
import { allOpen, clusterForSuite, maxInWindow, reconnectFrames, topology, users, waitForAgreement, waitUntil, welcomes, type TrackedClient } from './support.js';

/** Welcome times (ms, client clock) of the sockets that went to `url`. */
const arrivalsAt = (clients: TrackedClient[], url: string) =>
  clients.flatMap((c) => c.sockets.filter((s) => s.url.startsWith(url) && s.welcomed).map((s) => s.frames.find((f) => f.frame.type === 'welcome')!.at));

/** When the reconnect frames sending users to `url` reached them (ms, client clock): the senders' pace, as near as a client sees it. */
const framesTo = (clients: TrackedClient[], url: string) =>
  clients.flatMap((c) => c.sockets.flatMap((s) => s.frames.filter((f) => f.frame.type === 'reconnect' && f.frame.url === url).map((f) => f.at)));

/** Users per second in the busiest second, and the time from first to last arrival against M / A. */
function figures(times: number[], acceptRate: number): { peak: number; ratio: number } {
  const sorted = [...times].sort((a, b) => a - b);
  const ideal = (sorted.length / acceptRate) * 1000;
  return { peak: maxInWindow(sorted, 1_000), ratio: (sorted[sorted.length - 1] - sorted[0]) / ideal };
}

/**
 * Every client open on its owner under `ring` (on a loaded machine a few connects time out and fail over to a
 * stand-in, which goes back after --converge-after-ms), then what each has seen so far, so a test counts only what
 * its change brings.
 */
async function onOwners(clients: TrackedClient[], ring: { owner(user: string): string }) {
  await waitUntil(() => clients.every((c) => c.client.state === 'open' && c.client.node === ring.owner(c.user)), 60_000, 'every client on its owner');
  const seen = new Map(clients.map((c) => [c.user, { sockets: c.sockets.length, frames: reconnectFrames(c).length }]));
  return {
    frames: (c: TrackedClient) => reconnectFrames(c).slice(seen.get(c.user)!.frames),
    sockets: (c: TrackedClient) => c.sockets.slice(seen.get(c.user)!.sockets),
  };
}

// Measured at the clients (one test process with hundreds of clients, on a loaded machine), a second can hold more
// frames than the agents sent in it: a stall of the test process delivers several at once. The allowance, 10% of
// the rate and 3, is far below what one sender too many would add (each sender at the whole rate: x 3).
const measure = (acceptRate: number) => 0.1 * acceptRate + 3;

describe('join with several senders', () => {
  const ACCEPT = 40;
  const suite = clusterForSuite(['s1', 's2', 's3'], { rate: 1_000, convergeAfterMs: 2_000 });

  it('arrivals at the joiner stay within its accept rate whatever the number of senders; each moved user moves once', async () => {
    const { cluster } = suite;
    const before = await waitForAgreement(cluster.agents, 3);
    const clients = suite.startClients(users(300, 'join'), cluster.agents);
    await allOpen(clients);
    const since = await onOwners(clients, before.ring);
    const joiner = await cluster.add('s4', { acceptRate: ACCEPT });
    const after = await waitForAgreement(cluster.agents, 4);
    const moved = clients.filter((c) => after.ring.owner(c.user) === 's4');
    await waitUntil(() => moved.every((c) => c.client.node === 's4' && c.client.state === 'open'), 60_000, 'moved users open on the joiner');
    const senders = new Set(moved.map((c) => before.ring.owner(c.user)));
    expect(senders.size).toBe(3);
    for (const c of clients) {
      if (moved.includes(c)) expect(since.frames(c).map((f) => f.frame)).toEqual([expect.objectContaining({ node: 's4' })]);
      else expect({ user: c.user, sockets: since.sockets(c).length }).toEqual({ user: c.user, sockets: 0 });
    }
    const { peak, ratio } = figures(framesTo(clients, joiner.url), ACCEPT);
    const arrived = figures(arrivalsAt(clients, joiner.url), ACCEPT);
    console.log(`join: ${moved.length} users from ${senders.size} senders to a joiner accepting ${ACCEPT}/s: peak ${peak} frames/s (${arrived.peak} welcomes/s), bound ${ACCEPT * 1.05 + senders.size}; first to last / (M/A) = ${ratio.toFixed(2)}`);
    expect(peak).toBeLessThanOrEqual(ACCEPT * 1.05 + senders.size + measure(ACCEPT));
  });
});

describe('handoff deploy', () => {
  const ACCEPT = 50;
  const suite = clusterForSuite(['h1', 'h2', 'h3'], { acceptRate: ACCEPT, convergeAfterMs: 2_000 });

  it('the successor waits without a conflict; on SIGTERM each user of the node moves once, to it, within its accept rate; nobody else moves; the ring stays', async () => {
    const { cluster } = suite;
    const before = await waitForAgreement(cluster.agents, 3);
    const clients = suite.startClients(users(240, 'handoff'), cluster.agents);
    await allOpen(clients);
    const since = await onOwners(clients, before.ring);
    const old = cluster.agents.find((a) => a.id === 'h2')!;
    const onH2 = clients.filter((c) => before.ring.owner(c.user) === 'h2');
    expect(onH2.length).toBeGreaterThan(20);
    const successor = await cluster.add('h2', { acceptRate: ACCEPT });
    await successor.waitForLog((l) => String(l.msg).includes('waiting as its successor'), 10_000);
    expect(old.logs.some((l) => String(l.msg).includes('another agent uses this node id'))).toBe(false);
    expect((await topology(cluster.agents[0])).fingerprint).toBe(before.topology.fingerprint);

    await old.stop(30_000);
    expect(old.logs.find((l) => l.event === 'exit')).toMatchObject({ how: 'drain', handedOff: onH2.length, remaining: 0 });
    const staying = cluster.agents.filter((a) => a !== old);
    await waitUntil(async () => (await topology(staying[0])).nodes.find((n) => n.id === 'h2')?.url === successor.url, 10_000, 'the fleet lists the successor');
    await waitUntil(() => onH2.every((c) => c.client.state === 'open' && c.sockets.at(-1)!.url.startsWith(successor.url)), 30_000, 'users of h2 on the successor');
    const now = await topology(staying[0]);
    expect(now.fingerprint).toBe(before.topology.fingerprint);
    expect((await loadRing(now.ring)).nodes.find((n) => n.id === 'h2')?.meta?.url).toBe(successor.url);
    for (const c of clients) {
      if (onH2.includes(c)) {
        // One frame naming the same node at the successor's URL; two sockets in all; no failover.
        expect(since.frames(c).map((f) => f.frame)).toEqual([expect.objectContaining({ node: 'h2', url: successor.url })]);
        expect(since.sockets(c).map((s) => s.url.startsWith(successor.url))).toEqual([true]);
      } else {
        expect({ user: c.user, sockets: since.sockets(c).length }).toEqual({ user: c.user, sockets: 0 });
      }
    }
    const { peak, ratio } = figures(framesTo(clients, successor.url), ACCEPT);
    const arrived = figures(arrivalsAt(clients, successor.url), ACCEPT);
    console.log(`handoff: ${onH2.length} users to a successor accepting ${ACCEPT}/s: peak ${peak} frames/s (${arrived.peak} welcomes/s), bound ${ACCEPT * 1.05 + 1}; first to last / (M/A) = ${ratio.toFixed(2)}`);
    expect(peak).toBeLessThanOrEqual(ACCEPT * 1.05 + 1 + measure(ACCEPT));
  });
});

describe('restart-in-place deploy', () => {
  const ACCEPT = 50;
  // The next process must be serving before the first user is due back: starting one takes seconds on a loaded machine.
  const suite = clusterForSuite(['r1', 'r2', 'r3'], { acceptRate: ACCEPT, restartBackInMs: 15_000, livenessMs: 3_000, convergeAfterMs: 2_000 });

  it('each user of the node reconnects once, to the same node, spread at its accept rate; nobody else is touched', async () => {
    const { cluster } = suite;
    const before = await waitForAgreement(cluster.agents, 3);
    const clients = suite.startClients(users(200, 'restart'), cluster.agents);
    await allOpen(clients);
    const since = await onOwners(clients, before.ring);
    const old = cluster.agents.find((a) => a.id === 'r3')!;
    const onR3 = clients.filter((c) => before.ring.owner(c.user) === 'r3');
    expect(onR3.length).toBeGreaterThan(20);
    await old.kill('SIGUSR2');
    expect(old.logs.find((l) => l.event === 'exit')).toMatchObject({ how: 'restart', users: onR3.length });
    const next = await cluster.add('r3', { acceptRate: ACCEPT, port: old.port });
    await waitUntil(() => onR3.every((c) => c.client.state === 'open' && since.sockets(c).some((s) => s.welcomed)), 60_000, 'users of r3 back');
    expect((await topology(next)).fingerprint).toBe(before.topology.fingerprint);
    for (const c of clients) {
      if (onR3.includes(c)) {
        // Welcomed once more, by r3: it came back once, to the same node, no failover.
        expect({ user: c.user, nodes: since.sockets(c).filter((s) => s.welcomed).map((s) => s.node) }).toEqual({ user: c.user, nodes: ['r3'] });
      } else expect({ user: c.user, sockets: since.sockets(c).length }).toEqual({ user: c.user, sockets: 0 });
    }
    const times = onR3.map((c) => since.sockets(c).find((s) => s.welcomed)!.frames.find((f) => f.frame.type === 'welcome')!.at);
    const { peak } = figures(times, ACCEPT);
    console.log(`restart in place: ${onR3.length} users back at a node accepting ${ACCEPT}/s: peak ${peak}/s`);
    // Measured at welcomes (the delays run on the clients' own timers): twice the allowance.
    expect(peak).toBeLessThanOrEqual(ACCEPT + 1 + 2 * measure(ACCEPT));
  });
});

describe('drain at the defaults', () => {
  // Default rate, accept rate, burst and deadline (only the membership timing is the suites' quick one).
  const suite = clusterForSuite(['d1', 'd2', 'd3'], { jitterMs: 250, convergeAfterMs: 2_000 });

  it('sizes itself within the default deadline and moves every user of the node once, none left at the deadline', async () => {
    const { cluster } = suite;
    const before = await waitForAgreement(cluster.agents, 3);
    const clients = suite.startClients(users(300, 'drain'), cluster.agents);
    await allOpen(clients);
    const since = await onOwners(clients, before.ring);
    const [draining, ...staying] = cluster.agents;
    const onIt = clients.filter((c) => before.ring.owner(c.user) === draining.id);
    await draining.stop(40_000);
    const sized = draining.logs.find((l) => l.msg === 'drain sized');
    expect(sized, 'the drain fits its default deadline').toBeDefined();
    expect(Number(sized!.expectedMs)).toBeLessThan(Number(sized!.deadlineMs));
    expect(draining.logs.find((l) => l.event === 'exit')).toMatchObject({ how: 'drain', remaining: 0 });
    const after = await waitForAgreement(staying, 2);
    await allOpen(clients);
    for (const c of onIt) {
      expect(c.client.node).toBe(after.ring.owner(c.user));
      expect(since.frames(c)).toHaveLength(1);
    }
  });
});
