// Deploys that keep the ring: a handoff (each user of the node moves once, to its successor, paced by one lane at
// the successor's acceptRate under the sender ceiling) and a restart in place (each user comes back to the node at
// its own slot, restartBackInMs + i / acceptRate). Nobody else moves in either.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gateBurst, LANE_BURST_MS, warmingRate } from '@wsring/node-agent/internal';
import { agentPacingArb, deployFleetArb } from './arbitraries.js';
import { runCli } from './run-cli.js';
import { predictMovement } from '../src/predict.js';
import { parseScenario } from '../src/scenario.js';
import { resolveStormParams } from '../src/storm-params.js';
import { SERVES_BEFORE_STEP_MS, simulateStorm } from '../src/storm.js';
import type { StormModeResult, StormParams, StormReport } from '../src/types.js';
import { stormInput } from './storm-input.js';

/** The agents' pacing over a wide range; the nodes can take anything (the properties are about what is sent). */
const paramsArb: fc.Arbitrary<StormParams> = agentPacingArb(2000)
  .map((p) => resolveStormParams({ ...p, acceptPerSec: 1e7, maxStepMs: 300_000 }));

/** Connections of `id` at the end of each second of step `i` (from its start to the next step's). */
function stepSeconds(r: StormModeResult, i: number, series: Record<string, number[]>, id: string): number[] {
  const from = r.series.stepStarts[i];
  const to = r.series.stepStarts[i + 1] ?? r.totals.runSeconds;
  return (series[id] ?? []).slice(from, to);
}

describe('handoff deploy', () => {
  it('moves each user of the node exactly once, to the node itself, nobody else; arrivals a second within min(acceptRate, ceiling) and their bursts', async () => {
    await fc.assert(
      fc.asyncProperty(deployFleetArb, paramsArb, async (f, p) => {
        const node = `node-${f.pick}`;
        const { input, redeployed } = await stormInput(f.nodes, f.users, [{ kind: 'rolling-deploy', ids: [node], strategy: 'handoff' }]);
        const users = input.initialLoads[node];
        expect(redeployed).toEqual([users]);
        expect(input.steps[0].flows).toEqual([]);
        const r = simulateStorm(input, p, 'targeted');
        const s = r.steps[0];
        expect(s.settleMs).not.toBeNull();
        // Each user of the node once, and only them: the node is the one receiver and took exactly its own users.
        expect(s.disconnected).toBe(users);
        expect(s.restarted).toBe(0);
        expect(s.receivers.map((x) => [x.node, x.arrivals])).toEqual(users > 0 ? [[node, users]] : []);
        for (const [id, load] of Object.entries(input.initialLoads)) {
          expect(r.finalConnections[id]).toBe(load);
          if (id === node) continue;
          // Nobody else is touched: no arrivals, connections constant throughout.
          expect(stepSeconds(r, 0, r.series.arrivalsPerSec, id).every((a) => a === 0)).toBe(true);
          expect(stepSeconds(r, 0, r.series.connections, id).every((c) => c === load)).toBe(true);
        }
        // One sender, one lane at the successor's acceptRate (LANE_BURST_MS deep, plus its first token) under the
        // sender's ceiling (ratePerSec, burst); a second of arrivals holds the frames of a second and a tick.
        const window = 1 + p.tickMs / 1000;
        const bound = Math.min(p.acceptRate * (window + LANE_BURST_MS / 1000) + 1, p.ratePerSec * window + p.burst);
        for (const a of r.series.arrivalsPerSec[node]) expect(a).toBeLessThanOrEqual(Math.ceil(bound));
      }),
      { numRuns: 40, seed: 20261130 },
    );
  });

  it('takes about users / min(acceptRate, ratePerSec) from the first frame to the last arrival, the successor warming up as it declares', async () => {
    const { input } = await stormInput(6, 40_000, [{ kind: 'rolling-deploy', ids: ['node-1'], strategy: 'handoff' }]);
    const users = input.initialLoads['node-1'];
    for (const [acceptRate, ratePerSec, warmupMs] of [[1000, 1000, 0], [500, 1000, 0], [2000, 800, 0], [1000, 1000, 5_000], [500, 1000, 5_000]]) {
      const p = resolveStormParams({ acceptRate, ratePerSec, warmupMs });
      const s = simulateStorm(input, p, 'targeted').steps[0];
      const ideal = warmedTimeMs(users, acceptRate, ratePerSec, warmupMs, p.heartbeatMs, SERVES_BEFORE_STEP_MS);
      const took = s.lastArrivalMs! - s.firstFrameMs!;
      expect(took).toBeGreaterThan(ideal * 0.9);
      expect(took).toBeLessThan(ideal * 1.1 + 500);
      expect(s.receivers[0].settleMs).toBe(took);
    }
  });
});

/**
 * Time to send `users` to a successor that began serving `startAgeMs` before the first frame and declares
 * warmingRate(acceptRate) as of its last heartbeat, under the sender's ceiling: the integral, a millisecond at a time.
 */
function warmedTimeMs(users: number, acceptRate: number, ceiling: number, warmupMs: number, heartbeatMs: number, startAgeMs: number): number {
  let sent = 0;
  let ms = 0;
  for (; sent < users; ms++) {
    const age = Math.floor((startAgeMs + ms) / heartbeatMs) * heartbeatMs;
    sent += Math.min(ceiling, warmingRate(acceptRate, age, warmupMs)) / 1000;
  }
  return ms;
}

describe('restart-in-place deploy', () => {
  it('brings each user of the node back once, to the same node, at its slot; no other node gets arrivals; arrivals a second within acceptRate', async () => {
    await fc.assert(
      fc.asyncProperty(deployFleetArb, paramsArb, async (f, gated) => {
        // The slots' arithmetic, without the node's admission gate (below: with it).
        const p = { ...gated, admissionWaitMs: 0 };
        const node = `node-${f.pick}`;
        const { input } = await stormInput(f.nodes, f.users, [{ kind: 'rolling-deploy', ids: [node], strategy: 'restart' }]);
        const users = input.initialLoads[node];
        let total = -1;
        let peakRestarting = 0;
        const r = simulateStorm(input, p, 'targeted', {
          onTick: (t) => {
            total = t.connected + t.reconnecting + t.restarting + t.admitting;
            expect(total).toBe(f.users);
            peakRestarting = Math.max(peakRestarting, t.restarting);
          },
        });
        const s = r.steps[0];
        expect(s.settleMs).not.toBeNull();
        // Disconnected with a known return: every user of the node, none dropped into reconnecting with backoff.
        expect(s.disconnected).toBe(users);
        expect(s.restarted).toBe(users);
        expect(s.peakRestarting).toBe(users);
        expect(s.peakReconnecting).toBe(0);
        expect(s.refused).toBe(0);
        expect(r.finalRestarting).toBe(0);
        expect(s.receivers.map((x) => [x.node, x.arrivals])).toEqual(users > 0 ? [[node, users]] : []);
        for (const [id, load] of Object.entries(input.initialLoads)) {
          expect(r.finalConnections[id]).toBe(load);
          if (id !== node) expect(stepSeconds(r, 0, r.series.arrivalsPerSec, id).every((a) => a === 0)).toBe(true);
        }
        if (users === 0) return;
        // The first user comes back after restartBackInMs (and its frame and connection), the last at its slot.
        const slotOfLast = p.restartBackInMs + Math.floor(((users - 1) * 1000) / p.acceptRate);
        expect(s.lastArrivalMs! - s.firstFrameMs!).toBeGreaterThanOrEqual(slotOfLast + 1.5 * p.rttMs - p.tickMs);
        expect(s.lastArrivalMs! - s.firstFrameMs!).toBeLessThanOrEqual(slotOfLast + 1.5 * p.rttMs + p.tickMs);
        // One slot every 1000 / acceptRate ms: a second (and a tick of quantisation) holds at most that many and one.
        for (const a of r.series.arrivalsPerSec[node]) expect(a).toBeLessThanOrEqual(Math.ceil(p.acceptRate * (1 + p.tickMs / 1000)) + 1);
        // Nobody arrives before the new process serves.
        const firstSecond = r.series.arrivalsPerSec[node].findIndex((a) => a > 0);
        expect((firstSecond + 1) * 1000).toBeGreaterThan(p.restartBackInMs);
        // With the gate: the new process warms up, and its gate admits the users at their slots at what it declares
        // (a fifth of its rate at first): the same users come back to it, later, within its window and overflows.
        const g = simulateStorm(input, gated, 'targeted', { onTick: (t) => expect(t.connected + t.reconnecting + t.restarting + t.admitting).toBe(f.users) });
        const gs = g.steps[0];
        expect(gs.settleMs).not.toBeNull();
        expect(gs.receivers.map((x) => [x.node, x.arrivals])).toEqual([[node, users]]);
        expect(gs.lastArrivalMs!).toBeGreaterThanOrEqual(s.lastArrivalMs!);
        const gate = gs.receivers[0].gate!;
        expect(gate.longestWaitMs).toBeLessThanOrEqual(gated.admissionWaitMs);
        expect(gate.peakAdmittedPerSec).toBeLessThanOrEqual(gated.acceptRate + gateBurst(gated.acceptRate) + gate.overflowed);
        expect(g.finalConnections).toEqual(r.finalConnections);
      }),
      { numRuns: 40, seed: 20261130 },
    );
  });

  it('cuts slots past the protocol\'s longest restart delay: those users arrive together and push the node past its rate', async () => {
    const { input } = await stormInput(2, 300_000, [{ kind: 'rolling-deploy', ids: ['node-0'], strategy: 'restart' }]);
    const r = simulateStorm(input, resolveStormParams({ acceptPerSec: 1000 }), 'targeted');
    expect(r.totals.overloadSeconds).toBeGreaterThan(0);
    expect(r.steps[0].restarted).toBe(input.initialLoads['node-0']);
  });
});

describe('deploy strategies on the command line and in scenarios', () => {
  it('--deploy sets the strategy of --rolling-deploy; drain keeps two steps per node', async () => {
    const base = ['storm', '-n', '3', '-u', '3000', '--rolling-deploy', '--json'];
    const drain = JSON.parse((await runCli(base)).out) as StormReport;
    expect(drain.targeted.steps.map((s) => s.label)).toEqual(['deploy node-0: drain', 'deploy node-0: back', 'deploy node-1: drain', 'deploy node-1: back', 'deploy node-2: drain', 'deploy node-2: back']);
    const handoff = JSON.parse((await runCli([...base, '--deploy', 'handoff'])).out) as StormReport;
    expect(handoff.targeted.steps.map((s) => s.label)).toEqual(['deploy node-0: handoff', 'deploy node-1: handoff', 'deploy node-2: handoff']);
    expect(handoff.targeted.totals.disconnected).toBe(3000);
    const restart = JSON.parse((await runCli([...base, '--deploy', 'restart', '--restart-back-in-ms', '2000'])).out) as StormReport;
    expect(restart.params.restartBackInMs).toBe(2000);
    expect(restart.targeted.totals.restarted).toBe(3000);
    // Text: the deploy table, and how restarting users are counted.
    const text = (await runCli(['storm', '-n', '3', '-u', '3000', '--rolling-deploy', '--deploy', 'restart'])).out;
    expect(text).toContain('Deploys that keep the ring');
    expect(text).toContain('deploy node-2: restart');
    expect(text).toContain('a known return, not dropped');
    const plan = (await runCli(['plan', '-n', '3', '-u', '3000', '--rolling-deploy', '--deploy', 'handoff', '--no-timing'])).out;
    expect(plan).toContain('rolling deploy (handoff): 3,000 users move once each');
  });

  it('reads a strategy in a scenario\'s rolling deploy, refuses an unknown one', () => {
    const cluster = { nodes: 3, users: 100 };
    expect(parseScenario({ cluster, steps: [{ 'rolling-deploy': { ids: ['node-1'], strategy: 'restart' } }] }).steps).toEqual([{ kind: 'rolling-deploy', ids: ['node-1'], strategy: 'restart' }]);
    expect(parseScenario({ cluster, steps: [{ 'rolling-deploy': { strategy: 'handoff' } }] }).steps).toEqual([{ kind: 'rolling-deploy', strategy: 'handoff' }]);
    expect(() => parseScenario({ cluster, steps: [{ 'rolling-deploy': { strategy: 'blue-green' } }] })).toThrow(/strategy/);
    expect(() => parseScenario({ cluster, steps: [{ 'rolling-deploy': { nodes: ['node-1'] } }] })).toThrow(/unknown field/);
  });

  it('refuses --deploy without a rolling deploy, and an unknown strategy', async () => {
    const alone = await runCli(['plan', '-n', '3', '--add', '1', '--deploy', 'handoff']);
    expect(alone.code).toBe(2);
    expect(alone.err).toMatch(/--deploy/);
    const bad = await runCli(['plan', '-n', '3', '--rolling-deploy', '--deploy', 'blue-green']);
    expect(bad.code).toBe(2);
  });
});

describe('predictMovement', () => {
  it('hashes the given ids, as a script connects them: the same as synthetic ids of the same names', async () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `user-${i}`);
    const steps = [{ kind: 'add' as const, nodes: [{ id: 'e', weight: 1 }] }, { kind: 'rolling-deploy' as const, strategy: 'handoff' as const, ids: ['a'] }, { kind: 'drain' as const, ids: ['b'] }];
    const byIds = await predictMovement({ nodes: ['a', 'b', 'c', 'd'], users: ids, steps });
    const bySynthetic = await predictMovement({ nodes: ['a', 'b', 'c', 'd'], users: 5000, steps });
    expect(byIds).toEqual(bySynthetic);
    expect(byIds.steps.map((s) => s.label)).toEqual(['add e', 'deploy a: handoff', 'drain b']);
    const [add, handoff, drain] = byIds.steps;
    expect(add.receivers.map((r) => r.node)).toEqual(['e']);
    expect(add.reconnected).toBe(add.moved);
    expect(handoff.moved).toBe(0);
    expect(handoff.receivers.map((r) => r.node)).toEqual(['a']);
    expect(handoff.settleMs).toBe(handoff.lastArrivalMs! - handoff.firstFrameMs!);
    expect(drain.receivers.map((r) => r.node).sort()).toEqual(['a', 'c', 'd', 'e']);
    for (const s of byIds.steps) for (const r of s.receivers) expect(r.peakArrivalsPerSec).toBeLessThanOrEqual(Math.ceil(r.acceptRate * 1.06) + 4);
  });
});
