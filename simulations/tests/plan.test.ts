import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { balanceOf, minimumMoves } from '../src/balance.js';
import { buildNodes } from '../src/cluster.js';
import { runCli } from './run-cli.js';
import { runPlan } from '../src/plan.js';
import type { ClusterSpec, PlanReport, StepSpec } from '../src/types.js';
import { stepsArb } from './arbitraries.js';
import { bruteForce, syntheticIds } from './brute.js';

const USERS = 3000;

const steps: StepSpec[] = [
  { kind: 'scale-out', count: 2 },
  { kind: 'drain', ids: ['eu-1'] },
  { kind: 'crash', ids: ['us-0'] },
  { kind: 'reweight', weights: { 'eu-0': 3 } },
  { kind: 'reweight-zone', zone: 'us', weight: 0.5 },
  { kind: 'rolling-deploy', ids: ['eu-2', 'node-0'] },
  { kind: 'scale-in', count: 1 },
];

function cluster(algorithm: ClusterSpec['algorithm']): ClusterSpec {
  return {
    nodes: buildNodes(0, [], [{ name: 'eu', nodes: 4, weight: 2 }, { name: 'us', nodes: 3, weight: 1 }]),
    algorithm,
    ringSeed: 7,
    users: { kind: 'synthetic', count: USERS },
  };
}

describe.each(['ring', 'maglev', 'rendezvous'] as const)('plan with %s agrees with a brute-force count', (algorithm) => {
  it('for every step: users moved, load per node before and after, flows, minimum and balance', async () => {
    const c = cluster(algorithm);
    const report = await runPlan({ cluster: c, steps }, { workers: 1 });
    const brute = await bruteForce(c, steps, syntheticIds(USERS));
    expect(report.steps).toHaveLength(brute.length);
    report.steps.forEach((s, i) => {
      const b = brute[i];
      expect(s.moved, s.label).toBe(b.moved);
      for (const l of s.loads) {
        expect(l.before, `${s.label} ${l.id} before`).toBe(b.before.get(l.id) ?? 0);
        expect(l.after, `${s.label} ${l.id} after`).toBe(b.after.get(l.id) ?? 0);
      }
      expect(s.loads.reduce((a, l) => a + l.before, 0)).toBe(USERS);
      expect(s.loads.reduce((a, l) => a + l.after, 0)).toBe(USERS);
      expect(new Map(s.flows.map((f) => [`${f.from}>${f.to}`, f.users]))).toEqual(b.flows);
      const ids = s.loads.filter((l) => l.change !== 'left').map((l) => l.id);
      const expected = balanceOf(ids.map((id) => ({ id, weight: s.loads.find((l) => l.id === id)!.weight })), ids.map((id) => b.after.get(id) ?? 0));
      for (const k of ['maxOverMean', 'minOverMean', 'stddevPct'] as const) expect(s.balanceAfter[k]).toBeCloseTo(expected[k], 9);
    });
    expect(report.totals.moved).toBe(brute.reduce((a, b) => a + b.moved, 0));
  });
});

describe('plan agrees with a brute-force count on random fleets and changes', () => {
  it('moved users and load per node, every step, every algorithm', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }).chain((n) =>
          fc.record({
            weights: fc.array(fc.constantFrom(0.5, 1, 1.5, 2, 3), { minLength: n, maxLength: n }),
            users: fc.integer({ min: 0, max: 1200 }),
            steps: stepsArb(n),
            algorithm: fc.constantFrom('ring' as const, 'maglev' as const, 'rendezvous' as const),
            ringSeed: fc.nat(),
          }),
        ),
        async ({ weights, users, steps, algorithm, ringSeed }) => {
          const c: ClusterSpec = { nodes: buildNodes(weights.length, weights), algorithm, ringSeed, users: { kind: 'synthetic', count: users } };
          const report = await runPlan({ cluster: c, steps }, { workers: 1 });
          const brute = await bruteForce(c, steps, syntheticIds(users));
          expect(report.steps.map((s) => s.moved)).toEqual(brute.map((b) => b.moved));
          report.steps.forEach((s, i) => {
            for (const l of s.loads) {
              expect(l.before).toBe(brute[i].before.get(l.id) ?? 0);
              expect(l.after).toBe(brute[i].after.get(l.id) ?? 0);
            }
          });
        },
      ),
      { numRuns: 40, seed: 5 },
    );
  });
});

describe('plan on the command line', () => {
  it('prints the brute-force figures in text and JSON', async () => {
    const argv = ['plan', '--nodes', '5', '--users', '2000', '--add', '1', '--crash', 'node-2', '--no-timing', '--workers', '1'];
    const c: ClusterSpec = { nodes: buildNodes(5), algorithm: 'ring', ringSeed: 0, users: { kind: 'synthetic', count: 2000 } };
    const brute = await bruteForce(c, [{ kind: 'scale-out', count: 1 }, { kind: 'crash', ids: ['node-2'] }], syntheticIds(2000));
    const text = await runCli(argv);
    expect(text.code).toBe(0);
    const row = (label: string) => text.out.split('\n').find((l) => l.startsWith(label))!;
    expect(row('scale out +1')).toContain(brute[0].moved.toLocaleString('en-US'));
    expect(row('crash node-2')).toContain(brute[1].moved.toLocaleString('en-US'));
    for (const id of ['node-0', 'node-1', 'node-3', 'node-4', 'node-5']) {
      const line = text.out.split('\n').find((l) => l.startsWith(`${id} `))!;
      expect(line).toContain(` ${(brute[0].before.get(id) ?? 0).toLocaleString('en-US')} `);
      expect(line).toContain(` ${(brute[1].after.get(id) ?? 0).toLocaleString('en-US')} `);
    }
    const json = JSON.parse((await runCli([...argv, '--json'])).out) as PlanReport;
    expect(json.steps.map((s) => s.moved)).toEqual(brute.map((b) => b.moved));
    expect(json.steps[1].loads.find((l) => l.id === 'node-2')).toMatchObject({ before: brute[1].before.get('node-2'), after: 0, change: 'left' });
  });

  it('reads users from a file: one id per line, blank lines and surrounding whitespace ignored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsring-sim-users-'));
    try {
      const ids = Array.from({ length: 1500 }, (_, i) => `acct:${(i * 7919) % 100_003}@example.org`);
      const file = join(dir, 'ids.txt');
      writeFileSync(file, ids.map((id, i) => (i % 100 === 0 ? `  ${id}\r\n\n` : `${id}\n`)).join(''));
      const r = await runCli(['plan', '--nodes', '4', '--users-file', file, '--drain', 'node-0', '--json']);
      const json = JSON.parse(r.out) as PlanReport;
      const brute = await bruteForce({ nodes: buildNodes(4), algorithm: 'ring', ringSeed: 0, users: { kind: 'file', path: file } }, [{ kind: 'drain', ids: ['node-0'] }], ids);
      expect(json.users).toBe(ids.length);
      expect(json.steps[0].moved).toBe(brute[0].moved);
      for (const l of json.steps[0].loads) expect(l.after).toBe(brute[0].after.get(l.id) ?? 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers bad input with one line and exit code 2', async () => {
    for (const argv of [
      ['plan', '--nodes', 'x', '--add', '1'],
      ['plan', '--add', '1', '--algorithm', 'nope'],
      ['plan'],
      ['plan', '--drain', 'node-99'],
      ['plan', '--remove', '8'],
      ['plan', '--weights', '1,0', '--add', '1'],
      ['plan', '--users-file', '/nonexistent/ids.txt', '--add', '1'],
      ['plan', '--users', '2000', '--max-users', '1000', '--add', '1'],
      ['plan', '--scenario', '/nonexistent.yaml'],
    ]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(/error|wsring-sim: [A-Z_]+: /);
      expect(r.out).toBe('');
    }
  });
});

describe('minimum moves', () => {
  it('is users/(n+1) for one more equal node, and the leaving share for a removal', () => {
    const four = buildNodes(4);
    expect(minimumMoves(1000, four, buildNodes(5))).toBe(200);
    expect(minimumMoves(1000, four, four.slice(1))).toBe(250);
    expect(minimumMoves(1000, four, four)).toBe(0);
  });
});
