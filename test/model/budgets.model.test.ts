// Receiver budgets on the fleet model (fleet.ts: the agents' own modules on one manual clock): for random fleets,
// weights, accept rates and changes (joins, a drain, both at once), the users that follow a reconnect frame arrive at
// every receiver R within acceptRate(R) x (T + LANE_BURST_MS) + (its senders) over every window T; every user moves
// at most once per change (the fleet's own checks); a drain finishes within the time computed at its receivers'
// budgets; completion against M/A is reported.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LANE_BURST_MS } from '@wsring/node-agent/internal';
import { worstExcess } from '../support/rate-window.js';
import { DEFAULT_FLEET, Fleet } from './fleet.js';

const scenario = fc.record({
  algorithm: fc.constantFrom('ring' as const, 'maglev' as const, 'rendezvous' as const),
  nodes: fc.integer({ min: 2, max: 5 }),
  joins: fc.integer({ min: 0, max: 2 }),
  drain: fc.boolean(),
  specs: fc.array(fc.record({ weight: fc.integer({ min: 1, max: 3 }), acceptRate: fc.integer({ min: 20, max: 400 }) }), { minLength: 7, maxLength: 7 }),
  users: fc.integer({ min: 150, max: 500 }),
  latencies: fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 7, maxLength: 7 }),
  seed: fc.integer(),
});

describe('receiver budgets on the fleet model', () => {
  it('arrivals per receiver per window stay within the bound; each moved user moves once; a drain finishes within its computed time', async () => {
    const ratios: number[] = [];
    const drains: string[] = [];
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        if (sc.joins === 0 && !sc.drain) return;
        const ids = sc.specs.map((_, i) => `n${i}`);
        const nodeSpecs = Object.fromEntries(ids.map((id, i) => [id, sc.specs[i]]));
        const fleet = new Fleet({ ...DEFAULT_FLEET, ring: { algorithm: sc.algorithm }, seed: sc.seed, nodeSpecs });
        try {
          for (let i = 0; i < sc.nodes; i++) await fleet.join(ids[i], sc.latencies[i], 0);
          await fleet.connect(Array.from({ length: sc.users }, (_, i) => `user-${i}`));
          expect(await fleet.settle()).toBe(true);
          const before = fleet.serving()[0].ring;
          fleet.arrivals.length = 0;
          const started = fleet.clock.now();
          const drained = sc.drain ? ids[0] : undefined;
          if (drained) await fleet.drain(drained);
          for (let i = 0; i < sc.joins; i++) await fleet.join(ids[sc.nodes + i], sc.latencies[sc.nodes + i], 0);
          expect(await fleet.settle(600_000)).toBe(true);
          await fleet.checkSettled();
          expect(fleet.violations).toEqual([]);
          const after = fleet.serving()[0].ring;
          // Exactly the users whose owner changed arrived by a frame, once each.
          const movedUsers = [...fleet.users.keys()].filter((u) => before.owner(u) !== after.owner(u)).sort();
          expect(fleet.arrivals.map((a) => a.user).sort()).toEqual(movedUsers);
          const byNode = new Map<string, { times: number[]; senders: Set<string> }>();
          for (const a of fleet.arrivals) {
            const e = byNode.get(a.node) ?? { times: [], senders: new Set<string>() };
            e.times.push(a.at);
            e.senders.add(a.from);
            byNode.set(a.node, e);
          }
          let expectedMs = 0;
          for (const [node, e] of byNode) {
            const rate = nodeSpecs[node].acceptRate;
            const times = e.times.sort((x, y) => x - y);
            checked++;
            expect(worstExcess(times, rate), `${node} at ${rate}/s from ${[...e.senders]}`).toBeLessThanOrEqual(e.senders.size + (rate * LANE_BURST_MS) / 1000 + 1e-9);
            const ideal = (times.length / rate) * 1000;
            expectedMs = Math.max(expectedMs, ideal);
            if (times.length >= 30) ratios.push((times[times.length - 1] - times[0]) / ideal);
          }
          if (drained && sc.joins === 0 && fleet.arrivals.length > 0) {
            // The drain's own computation: its slowest receiver at its whole rate (one sender), or all at the ceiling.
            const computed = Math.max(expectedMs, (fleet.arrivals.length / DEFAULT_FLEET.pacing.ratePerSec) * 1000) + DEFAULT_FLEET.pacing.jitterMs;
            const took = Math.max(...fleet.arrivals.map((a) => a.at)) - started;
            // Plus the settle window and membership latency before the plan; maglev also reshuffles a little between the others.
            const allowance = DEFAULT_FLEET.settleMs + 2 * Math.max(...sc.latencies) + 100;
            const slack = sc.algorithm === 'maglev' ? 1.15 : 1.02;
            expect(took, `drain of ${fleet.arrivals.length} users (${sc.algorithm})`).toBeLessThanOrEqual(computed * slack + allowance);
            if (drains.length < 6) drains.push(`${sc.algorithm} ${fleet.arrivals.length} users: ${took} ms, computed ${Math.round(computed)} ms`);
          }
        } finally {
          fleet.shutdown();
        }
      }),
      { seed: 2_026, numRuns: 25 },
    );
    ratios.sort((a, b) => a - b);
    console.log(
      `fleet model: ${checked} receivers checked; first to last arrival / (M/A): median ${ratios[Math.floor(ratios.length / 2)]?.toFixed(2)}, max ${ratios.at(-1)?.toFixed(2)} over ${ratios.length}; drains: ${drains.join('; ')}`,
    );
  }, 600_000);
});
