import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildNodes, parseSessionsPerUser, runPlan, socketsOf } from '../src/mod.js';
import { SimError } from '../src/errors.js';

describe('sessions per user', () => {
  it('a distribution gives its mean and variance; weights need not sum to 1', () => {
    const d = parseSessionsPerUser('1:60,2:25,3:10,4:5');
    expect(d.mean).toBeCloseTo(1.6, 10);
    expect(d.variance).toBeCloseTo(0.74, 10);
    expect(parseSessionsPerUser('1.6')).toEqual({ spec: '1.6', mean: 1.6, variance: 0 });
  });

  it('any distribution over 1..k: the mean lies in [1, k], sockets at least the users, the range around the expectation', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 8 }).filter((ws) => ws.some((w) => w > 0)), fc.nat({ max: 1_000_000 }), (weights, users) => {
        const d = parseSessionsPerUser(weights.map((w, i) => `${i + 1}:${w}`).join(','));
        expect(d.mean).toBeGreaterThanOrEqual(1 - 1e-9);
        expect(d.mean).toBeLessThanOrEqual(weights.length + 1e-9);
        const s = socketsOf(users, d);
        expect(s.low).toBeGreaterThanOrEqual(users);
        expect(s.low).toBeLessThanOrEqual(s.expected);
        expect(s.high).toBeGreaterThanOrEqual(s.expected);
      }),
      { seed: 12 },
    );
  });

  it('refuses what is not a mean >= 1 or a sessions:weight list, with a typed error', () => {
    for (const bad of ['', '0.5', 'x', '1:', '0:1', '1.5:1', '1:-1', '1:0,2:0']) expect(() => parseSessionsPerUser(bad)).toThrow(SimError);
  });

  it('plan counts sockets beside users: held and moved per step', async () => {
    const report = await runPlan({
      cluster: { nodes: buildNodes(4), algorithm: 'ring', ringSeed: 0, users: { kind: 'synthetic', count: 20_000 }, sessionsPerUser: parseSessionsPerUser('2') },
      steps: [{ kind: 'scale-out', count: 1 }],
    });
    expect(report.sessions?.sockets).toBe(40_000);
    expect(report.sessions?.steps[0]).toMatchObject({ movedUsers: report.steps[0].moved, movedSockets: 2 * report.steps[0].moved });
  });
});
