import fc from 'fast-check';
import { buildNodes } from '../src/cluster.js';
import type { StepSpec } from '../src/types.js';

const STRATEGIES = ['drain', 'handoff', 'restart'] as const;

/**
 * Random valid steps for a fleet of node-0 .. node-(n-1); they only name nodes that exist at that point. With
 * `deploys`, a rolling deploy takes any strategy (else the default, drain).
 */
export function stepsArb(nodes: number, deploys = false): fc.Arbitrary<StepSpec[]> {
  const kinds = fc.constantFrom('scale-out', 'scale-in', 'drain', 'crash', 'reweight', 'rolling-deploy');
  return fc.array(fc.tuple(kinds, fc.nat(), fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 3 }).map((picks) => {
    const steps: StepSpec[] = [];
    let fleet = buildNodes(nodes).map((n) => n.id);
    let added = nodes;
    for (const [kind, pick, k] of picks) {
      const id = fleet[pick % fleet.length];
      if (kind === 'scale-out') {
        steps.push({ kind, count: k });
        fleet = [...fleet, ...Array.from({ length: k }, () => `node-${added++}`)];
      } else if (kind === 'scale-in' && fleet.length > k) {
        steps.push({ kind, count: k });
        fleet = fleet.slice(0, fleet.length - k);
      } else if ((kind === 'drain' || kind === 'crash') && fleet.length > 1) {
        steps.push({ kind, ids: [id] });
        fleet = fleet.filter((x) => x !== id);
      } else if (kind === 'reweight') {
        steps.push({ kind, weights: { [id]: k / 2 } });
      } else if (kind === 'rolling-deploy' && deploys) {
        const strategy = STRATEGIES[k % STRATEGIES.length];
        if (strategy !== 'drain' || fleet.length > 1) steps.push({ kind, ids: [id], strategy });
      } else if (kind === 'rolling-deploy' && fleet.length > 1) {
        steps.push({ kind, ids: [id] });
      }
    }
    return steps.length > 0 ? steps : [{ kind: 'scale-out', count: 1 } as StepSpec];
  });
}


/**
 * The agents' pacing over a wide range, for the deploy properties: accept rate and ceiling, bucket, jitter (up to
 * `maxJitterMs`), round trip, restart delay, tick and seed; the caller decides what the nodes can take.
 */
export function agentPacingArb(maxJitterMs: number) {
  return fc.record({
    acceptRate: fc.integer({ min: 200, max: 5000 }),
    ratePerSec: fc.integer({ min: 200, max: 5000 }),
    burst: fc.integer({ min: 1, max: 50 }),
    jitterMs: fc.integer({ min: 0, max: maxJitterMs }),
    rttMs: fc.integer({ min: 0, max: 200 }),
    restartBackInMs: fc.integer({ min: 0, max: 15_000 }),
    tickMs: fc.constantFrom(5, 10, 20, 50),
    seed: fc.nat(),
  });
}

/** One node of 2-8 to deploy (`pick`), with 200-20,000 synthetic users. */
export const deployFleetArb = fc.integer({ min: 2, max: 8 }).chain((nodes) => fc.record({ nodes: fc.constant(nodes), users: fc.integer({ min: 200, max: 20_000 }), pick: fc.nat({ max: nodes - 1 }) }));
