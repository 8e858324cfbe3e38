// A real agent's admission gate over loopback, on the manual clock: a crowd of users that connects at once (as
// the handshakes a stalled node finds queued would) is admitted at the node's accept rate, first come first
// served, with no client failing over; without the gate the same crowd is admitted at once.
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentOptions } from '../src/mod.js';
import { driveUntil } from '../../../test/support/drive.js';
import { worstExcess } from '../../../test/support/rate-window.js';
import { LoopbackFleet } from './loopback-fleet.js';
import { openClient } from './helpers.js';

const ACCEPT = 10;
const USERS = 40;
// No warm-up: the gate at the node's whole rate from the start (the warm-up's own test lowers it).
const TIMING = { heartbeatMs: 100, livenessTimeoutMs: 1_000, settleMs: 200, host: '127.0.0.1', acceptRate: ACCEPT, delivery: false, warmupMs: 0 } satisfies Partial<AgentOptions>;

let fleet: LoopbackFleet | undefined;
afterEach(() => fleet?.stop());

async function crowd(extra: Partial<AgentOptions>) {
  fleet = new LoopbackFleet({ ...TIMING, ...extra });
  await fleet.up(['a0'], 0);
  const start = fleet.clock.now();
  for (let i = 0; i < USERS; i++) fleet.clients.set(`user-${i}`, fleet.client(`user-${i}`));
  await driveUntil(fleet.clock, () => fleet!.settled(), { what: 'every client open', maxMs: 30_000 });
  const opens = [...fleet.clients.values()].map((t) => t.opens.map((o) => o.at)).flat().sort((a, b) => a - b);
  const agent = fleet.agents.get('a0')!;
  return { opens, start, health: agent.health(), clients: [...fleet.clients.values()] };
}

describe('admission gate (real agent)', () => {
  it('admits a crowd at the accept rate (one-second windows hold at most 1/20 more), each user once, none past the wait', async () => {
    const { opens, start, health, clients } = await crowd({});
    expect(opens).toHaveLength(USERS);
    expect(clients.every((t) => t.opens.length === 1 && t.moves.length === 0)).toBe(true);
    // The bucket holds 250 ms of the rate (2.5 users): at most 2.5 + 10 x T in any window T; and 10 + 1 in any second.
    expect(worstExcess(opens, ACCEPT)).toBeLessThanOrEqual(2.5 + 1e-9);
    for (const t of opens) expect(opens.filter((u) => u >= t && u < t + 1_000).length).toBeLessThanOrEqual(ACCEPT + 1);
    expect(opens.at(-1)! - start).toBeGreaterThanOrEqual(((USERS - 1) * 1000) / ACCEPT);
    expect(health.admissionGate).toMatchObject({ waiting: 0, overflowed: 0 });
    // All but the few the bucket held at the start (at most CATCH_UP_MS of the rate, and the clock moves as they come) waited.
    expect(health.admissionGate.queued).toBeGreaterThanOrEqual(USERS - 4);
    expect(health.arrivals.peakPerSec).toBeLessThanOrEqual(ACCEPT + 1);
  });

  it('past admissionWaitMs lets the rest through (counted), so waiting never becomes a failover', async () => {
    const { opens, health, clients } = await crowd({ admissionWaitMs: 1_000 });
    expect(opens).toHaveLength(USERS);
    expect(clients.every((t) => t.opens.length === 1 && t.moves.length === 0)).toBe(true);
    expect(health.admissionGate.overflowed).toBeGreaterThan(0);
  });

  it('a crowd this node would redirect takes no turns: every socket gets its redirect at once, and a waiting crowd is not held up by it', async () => {
    fleet = new LoopbackFleet({ ...TIMING });
    await fleet.up(['a0', 'a1'], 0);
    const ring = fleet.ring();
    const a0 = fleet.agents.get('a0')!;
    const theirs = Array.from({ length: 200 }, (_, i) => `user-${i}`).filter((u) => ring.owner(u) === 'a1').slice(0, 40);
    // Without the clock moving (no turn could come), each gets its redirect to a1.
    const raws = theirs.map((user) => openClient(a0.url, { user }));
    const frames = await Promise.all(raws.map((r) => r.frame((f) => f.type === 'redirect')));
    expect(frames.every((f) => f.type === 'redirect' && f.node === 'a1')).toBe(true);
    expect(a0.health().admissionGate.queued).toBe(0);
    for (const r of raws) r.ws.close();
  });

  it('without the gate (admissionWaitMs 0) the crowd is admitted at once', async () => {
    const { opens, health } = await crowd({ admissionWaitMs: 0 });
    expect(worstExcess(opens, ACCEPT)).toBeGreaterThan(USERS / 2);
    expect(health.admissionGate.queued).toBe(0);
  });
});
