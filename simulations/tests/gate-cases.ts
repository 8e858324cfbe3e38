// Random fleets, steps and storm parameters for the admission gate's properties (storm-gate.test.ts), and a
// fingerprint of a run's result, to pin the runs without a gate to the model's results before the gate.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { resolveStormParams } from '../src/storm-params.js';
import type { StepSpec, StormModeResult, StormParams } from '../src/types.js';
import { stepsArb } from './arbitraries.js';

export interface GateCase {
  nodes: number;
  users: number;
  steps: StepSpec[];
  params: StormParams;
}

/** Parameters where the gate matters: receivers that take more than they declare, warm-ups, late restarts, crowds. */
const paramsArb = fc
  .record({
    policy: fc.constantFrom('receiver-budget' as const, 'per-sender' as const),
    acceptRate: fc.integer({ min: 20, max: 3000 }),
    acceptPerSec: fc.integer({ min: 20, max: 6000 }),
    acceptBurstMs: fc.integer({ min: 0, max: 1000 }),
    ratePerSec: fc.integer({ min: 50, max: 3000 }),
    burst: fc.integer({ min: 1, max: 300 }),
    jitterMs: fc.integer({ min: 0, max: 2000 }),
    graceMs: fc.integer({ min: 0, max: 3000 }),
    ignorePct: fc.constantFrom(0, 0, 10, 100),
    backoffBaseMs: fc.integer({ min: 1, max: 1000 }),
    backoffExtraMs: fc.integer({ min: 0, max: 5000 }),
    rttMs: fc.integer({ min: 0, max: 200 }),
    warmupMs: fc.constantFrom(0, 2000, 10_000),
    heartbeatMs: fc.constantFrom(500, 2000),
    restartBackInMs: fc.integer({ min: 0, max: 3000 }),
    restartLateMs: fc.option(fc.integer({ min: 0, max: 6000 }), { nil: undefined }),
    tickMs: fc.constantFrom(10, 20, 50, 100),
    seed: fc.nat(),
  })
  .map(({ backoffExtraMs, restartLateMs, ...p }) =>
    resolveStormParams({ ...p, backoffCapMs: p.backoffBaseMs + backoffExtraMs, restartTakesMs: restartLateMs === undefined ? undefined : p.restartBackInMs + restartLateMs, maxStepMs: 60_000 }),
  );

export const gateCaseArb: fc.Arbitrary<GateCase> = fc
  .integer({ min: 1, max: 6 })
  .chain((n) => fc.record({ nodes: fc.constant(n), users: fc.integer({ min: 0, max: 3000 }), steps: stepsArb(n, true), params: paramsArb }));

/** The cases pinned without a gate: a fixed sample. */
export const PINNED_CASES = { seed: 20261130, count: 40 };

/** A result's digest: equal digests, equal results. */
export function fingerprint(result: StormModeResult): string {
  return createHash('sha256').update(JSON.stringify(result)).digest('hex').slice(0, 24);
}
