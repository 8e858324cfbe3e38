import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expandSteps } from '../src/cluster.js';
import { SimError } from '../src/errors.js';
import { loadScenario, parseScenario } from '../src/scenario.js';
import { DEFAULT_STORM_PARAMS } from '../src/storm-params.js';

const examples = fileURLToPath(new URL('../scenarios/', import.meta.url));

describe('scenario files', () => {
  it.each(readdirSync(examples))('example %s parses and its steps apply', (file) => {
    const s = loadScenario(`${examples}${file}`);
    expect(s.steps.length).toBeGreaterThan(0);
    expect(expandSteps(s.cluster.nodes, s.steps).length).toBeGreaterThanOrEqual(s.steps.length);
  });

  it('reads every step kind, zones and labels', () => {
    const s = parseScenario({
      cluster: { zones: [{ name: 'eu', nodes: 2, weight: 2 }, { name: 'us', nodes: 2 }], users: 10 },
      steps: [
        { 'scale-out': { count: 2, zone: 'eu', weight: 2 }, label: 'grow eu' },
        { 'scale-in': 1 },
        { add: [{ id: 'big', weight: 4 }, 'small'] },
        { remove: 'small' },
        { drain: ['eu-0'] },
        { crash: 'us-1' },
        { reweight: { 'eu-1': 3 } },
        { 'reweight-zone': { zone: 'us', weight: 2 } },
        { 'rolling-deploy': 'all' },
      ],
    });
    const steps = expandSteps(s.cluster.nodes, s.steps);
    expect(steps[0].label).toBe('grow eu');
    expect(steps[0].after.map((n) => n.id)).toEqual(['eu-0', 'eu-1', 'us-0', 'us-1', 'eu-2', 'eu-3']);
    const last = steps.at(-1)!;
    expect(last.after.map((n) => `${n.id}:${n.weight}`)).toEqual(['eu-1:3', 'us-0:2', 'eu-2:2', 'big:4']);
    expect(steps.filter((x) => x.kind === 'rolling-deploy')).toHaveLength(8);
    expect(steps.find((x) => x.kind === 'crash')!.departure).toBe('crash');
  });

  it.each([
    [{ cluster: { nodes: 2 }, steps: [{ 'scale-out': 1 }], extra: 1 }, /unknown field "extra"/],
    [{ cluster: { nodes: 2, algorithm: 'consistent' }, steps: [{ 'scale-out': 1 }] }, /algorithm/],
    [{ cluster: { nodes: 2 }, steps: [] }, /non-empty list of steps/],
    [{ cluster: { nodes: 2 }, steps: [{ 'scale-out': 1, drain: 'node-0' }] }, /exactly one of/],
    [{ cluster: { nodes: 2 }, steps: [{ explode: 1 }] }, /unknown step "explode"/],
    [{ cluster: { nodes: 2 }, steps: [{ drain: [] }] }, /node id or a non-empty list/],
    [{ cluster: { nodes: 2 }, steps: [{ 'scale-out': 1 }], storm: { ratePerSecond: 5 } }, /unknown field "ratePerSecond"/],
    [{ cluster: { nodes: [{ id: 'a' }, { id: 'a' }] }, steps: [{ 'scale-out': 1 }] }, /appears twice/],
    [{ cluster: { users: -1 }, steps: [{ 'scale-out': 1 }] }, /users/],
  ])('rejects %j', (doc, message) => {
    expect(() => parseScenario(doc)).toThrow(SimError);
    expect(() => parseScenario(doc)).toThrow(message);
  });
});

describe('per-node accept rates', () => {
  it('come from the scenario and the command line, the command line winning per node', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { main } = await import('../src/command.js');
    const file = join(mkdtempSync(join(tmpdir(), 'wsring-sim-accept-')), 's.yaml');
    writeFileSync(file, 'cluster: { nodes: 3, users: 3000 }\nsteps: [{ scale-out: 1 }]\nstorm: { nodeAcceptPerSec: { node-0: 50, node-3: 70 } }\n');
    let out = '';
    const code = await main(['storm', '--scenario', file, '--node-accept-per-sec', 'node-3=90', '--json'], { stdout: (t) => (out += t), stderr: () => {}, stderrIsTTY: false });
    expect(code).toBe(0);
    const r = JSON.parse(out);
    const fleet = DEFAULT_STORM_PARAMS.acceptPerSec;
    expect(r.acceptPerSec).toEqual({ 'node-0': 50, 'node-1': fleet, 'node-2': fleet, 'node-3': 90 });
  });
});
