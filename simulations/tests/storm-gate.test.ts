import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { simulateStorm } from '../src/storm.js';
import { fingerprint, gateCaseArb, PINNED_CASES } from './gate-cases.js';
import { stormInput } from './storm-input.js';

const pinned = fileURLToPath(new URL('./golden/storm-gate-off.json', import.meta.url));

describe('storm model without an admission gate (admissionWaitMs 0)', () => {
  // The digests were taken from the model before it had a gate. To accept a deliberate change: UPDATE_GOLDEN=1.
  it('gives exactly the results of the model before the gate (fixed sample of random fleets, steps and parameters)', async () => {
    const cases = fc.sample(gateCaseArb, { seed: PINNED_CASES.seed, numRuns: PINNED_CASES.count });
    const digests: string[] = [];
    for (const c of cases) {
      const { input } = await stormInput(c.nodes, c.users, c.steps);
      for (const mode of ['targeted', 'lb'] as const) digests.push(fingerprint(simulateStorm(input, { ...c.params, admissionWaitMs: 0 }, mode)));
    }
    if (process.env.UPDATE_GOLDEN || !existsSync(pinned)) writeFileSync(pinned, `${JSON.stringify(digests, null, 1)}\n`);
    expect(digests).toEqual(JSON.parse(readFileSync(pinned, 'utf8')));
  });
});
