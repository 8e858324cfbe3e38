// A restart in place that does not go as planned, in the storm model: a new process that serves later than
// restartBackInMs, clients that ignore the restart frame, a process not back within the fleet's hold of the node.
// Users that find the node down fail over to stand-ins and go back, paced, once it serves: they move twice.
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_RESTART_DELAY_MS } from '@wsring/protocol';
import { DEFAULTS as AGENT } from '@wsring/node-agent';
import { LANE_BURST_MS, RECORD_LIMITS, restartSlots, warmingRate, type ClientConnection } from '@wsring/node-agent/internal';
import { agentPacingArb, deployFleetArb } from './arbitraries.js';
import { runCli } from './run-cli.js';
import { failoverFlows } from '../src/failover.js';
import { renderHtml } from '../src/render/html.js';
import { requestedHoldMs, restartHoldMs } from '../src/restart-hold.js';
import { Apportioner } from '../src/stand-ins.js';
import { resolveStormParams } from '../src/storm-params.js';
import { SERVES_BEFORE_STEP_MS, simulateStorm, type StormInput } from '../src/storm.js';
import type { StormModeResult, StormParams, StormReport } from '../src/types.js';
import { stormInput } from './storm-input.js';

/** Runs the model, checking at every tick that every user is somewhere and that stand-ins hold connected users. */
function run(input: StormInput, p: StormParams, mode: 'targeted' | 'lb' = 'targeted'): StormModeResult {
  const users = Object.values(input.initialLoads).reduce((a, b) => a + b, 0);
  return simulateStorm(input, p, mode, {
    onTick: (s) => {
      expect(s.connected + s.reconnecting + s.restarting + s.admitting).toBe(users);
      expect(s.standIns).toBeLessThanOrEqual(s.connected);
    },
  });
}

/** When the k-th user of a restarted node (k from 0) reaches it: its slot, its frame's half round trip and its connection's round trip. */
const arrivalMs = (k: number, acceptRate: number, p: StormParams) => Math.min(p.restartBackInMs + Math.floor((k * 1000) / acceptRate), MAX_RESTART_DELAY_MS) + 1.5 * p.rttMs;

/** Users of `users` whose arrival comes before `ms`. */
const arrivingBefore = (users: number, acceptRate: number, p: StormParams, ms: number) => Array.from({ length: users }, (_, k) => arrivalMs(k, acceptRate, p)).filter((a) => a < ms).length;

/** The agents' pacing over a wide range; nodes take any crowd (what is measured is what comes, not refusals). */
const pacingArb = agentPacingArb(1000);

const restartOf = (node: string) => [{ kind: 'rolling-deploy' as const, ids: [node], strategy: 'restart' as const }];

/** A run's steps without what depends on when the new process served (the rest must not). */
function withoutServedMs(r: StormModeResult): unknown {
  return { ...r, steps: r.steps.map((s) => ({ ...s, failover: s.failover && { ...s.failover, servedMs: 'masked' } })) };
}

describe('restart in place, as planned', () => {
  it('with the process serving by restartBackInMs and every client obeying: nobody fails over, and the run is the one at restartBackInMs (property, fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 8 }).chain((nodes) => fc.record({ nodes: fc.constant(nodes), users: fc.integer({ min: 200, max: 20_000 }), ids: fc.uniqueArray(fc.nat({ max: nodes - 1 }), { minLength: 1, maxLength: 3 }) })),
        pacingArb,
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (f, pacing, early) => {
          const { input } = await stormInput(f.nodes, f.users, [{ kind: 'rolling-deploy', ids: f.ids.map((i) => `node-${i}`), strategy: 'restart' }]);
          // A round trip of at least a tick: the first slot's arrival is then never in the tick the plan's serving rounds up to.
          // No admission gate: a process that serves earlier is further into its warm-up, and its gate admits more.
          const base = { ...pacing, rttMs: Math.max(pacing.rttMs, pacing.tickMs), acceptPerSec: 1e7, maxStepMs: 300_000, admissionWaitMs: 0 };
          const planned = run(input, resolveStormParams(base));
          const takes = Math.floor(base.restartBackInMs * early);
          const r = run(input, resolveStormParams({ ...base, restartTakesMs: takes }));
          for (const s of r.steps) expect(s.failover).toEqual({ servedMs: takes, droppedMs: null, ignored: 0, failedOver: 0, movedTwice: 0, peakOnStandIns: 0 });
          expect(r.series.standIns!.every((n) => n === 0)).toBe(true);
          expect(withoutServedMs(r)).toEqual(withoutServedMs(planned));
        },
      ),
      { numRuns: 40, seed: 20261201 },
    );
  });
});

describe('restart in place, the process late', () => {
  it('users whose slot comes before the process serves fail over and go back once it does: they move twice; nobody reaches the node while it is down; everyone ends on their node (property, fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(deployFleetArb, pacingArb, fc.integer({ min: 1, max: 10_000 }), async (f, pacing, lateMs) => {
        const node = `node-${f.pick}`;
        const { input } = await stormInput(f.nodes, f.users, restartOf(node));
        const users = input.initialLoads[node];
        // Late by at most the liveness timeout: within the fleet's hold of the node, whatever its users.
        const p = resolveStormParams({ ...pacing, restartTakesMs: pacing.restartBackInMs + lateMs, acceptPerSec: 1e7, maxStepMs: 600_000 });
        const takes = p.restartTakesMs!;
        const r = run(input, p);
        const s = r.steps[0];
        const f0 = s.failover!;
        expect(s.settleMs).not.toBeNull();
        expect(f0.servedMs).toBe(takes);
        expect(f0.droppedMs).toBeNull();
        expect(f0.ignored).toBe(0);
        // Those whose slot comes before the process serves (to the tick the model decides in), and only they.
        expect(f0.failedOver).toBeGreaterThanOrEqual(arrivingBefore(users, p.acceptRate, p, takes - p.tickMs));
        expect(f0.failedOver).toBeLessThanOrEqual(arrivingBefore(users, p.acceptRate, p, takes));
        expect(f0.movedTwice).toBe(f0.failedOver);
        expect(s.restarted).toBe(users);
        expect(s.disconnected).toBe(users + f0.movedTwice);
        // After a quiet period every user is on its node again, nobody left on a stand-in.
        expect(r.finalConnections).toEqual(input.initialLoads);
        expect(r.finalReconnecting + r.finalRestarting).toBe(0);
        expect(r.series.standIns!.at(-1)).toBe(0);
        // The stand-ins took them in proportion to the node's users each would take (the ring without the node).
        const flows = input.steps[0].failover!();
        const total = flows.reduce((a, x) => a + x.users, 0);
        const took = new Map(s.receivers.filter((x) => x.node !== node).map((x) => [x.node, x.arrivals]));
        expect([...took.values()].reduce((a, b) => a + b, 0)).toBe(f0.failedOver);
        for (const x of flows) expect(Math.abs((took.get(x.to) ?? 0) - (f0.failedOver * x.users) / total)).toBeLessThan(1);
        // Nobody reaches the node while it is down: no attempt there in a second that ends before it serves.
        const arrivals = r.series.arrivalsPerSec[node];
        for (let sec = 0; (sec + 1) * 1000 <= takes; sec++) expect(arrivals[sec], `second ${sec}`).toBe(0);
        // Going back: each stand-in paces at its share of what the node declares now (it warms up from serving), the
        // shares summing to it, each lane LANE_BURST_MS deep plus a token; a second holds a second and a tick of frames.
        // The slots after the process served come on top, at the old process's full rate.
        const slotsAfter = users - f0.failedOver;
        for (let sec = Math.floor(takes / 1000); sec < arrivals.length; sec++) {
          const declared = warmingRate(p.acceptRate, (sec + 1) * 1000 - takes, p.warmupMs);
          const returns = Math.ceil(declared * (1 + p.tickMs / 1000 + LANE_BURST_MS / 1000)) + flows.length;
          const slots = slotsAfter > 0 ? Math.ceil(p.acceptRate * (1 + p.tickMs / 1000)) + 1 : 0;
          expect(arrivals[sec], `second ${sec}`).toBeLessThanOrEqual(returns + slots);
        }
      }),
      { numRuns: 40, seed: 20261202 },
    );
  });

  it('a process late past every slot: what arrives at the node going back stays within what it declares, warming up, plus the lanes\' bursts', async () => {
    for (const [nodes, users, acceptRate] of [[4, 8000, 1000], [6, 20_000, 500], [3, 3000, 2000]]) {
      const { input } = await stormInput(nodes, users, restartOf('node-1'));
      const load = input.initialLoads['node-1'];
      const p = resolveStormParams({ acceptRate, acceptPerSec: 1e7, restartBackInMs: 2000 });
      const takes = Math.ceil(arrivalMs(load - 1, acceptRate, p)) + 2000;
      const r = run(input, resolveStormParams({ acceptRate, acceptPerSec: 1e7, restartBackInMs: 2000, restartTakesMs: takes }));
      const s = r.steps[0];
      expect(s.failover!.movedTwice).toBe(load);
      const senders = input.steps[0].failover!().length;
      const arrivals = r.series.arrivalsPerSec['node-1'];
      for (let sec = 0; sec < arrivals.length; sec++) {
        const declared = (sec + 1) * 1000 <= takes ? 0 : warmingRate(acceptRate, (sec + 1) * 1000 - takes, p.warmupMs);
        expect(arrivals[sec], `second ${sec}`).toBeLessThanOrEqual(Math.ceil(declared * (1 + p.tickMs / 1000 + LANE_BURST_MS / 1000)) + (declared > 0 ? senders : 0));
      }
      // It takes about the users over what the node declares, its warm-up included: not much faster, not much slower.
      const back = s.lastArrivalMs! - takes;
      expect(back).toBeGreaterThan(((load - senders) / acceptRate) * 1000);
      expect(back).toBeLessThan(((load / acceptRate) * 1000 + p.warmupMs) * 1.5 + p.jitterMs + 1000);
    }
  });
});

describe('restart in place, past the fleet\'s hold of the node', () => {
  it('drops the node from the ring: its users fail over as after a crash, and move back once its process serves and joins again (property, fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(deployFleetArb, pacingArb, fc.integer({ min: 1, max: 30_000 }), async (f, pacing, pastMs) => {
        const node = `node-${f.pick}`;
        const { input } = await stormInput(f.nodes, f.users, restartOf(node));
        const users = input.initialLoads[node];
        const hold = restartHoldMs(users, pacing.acceptRate, pacing.restartBackInMs);
        const p = resolveStormParams({ ...pacing, restartTakesMs: hold + pastMs, acceptPerSec: 1e7, maxStepMs: 900_000 });
        const r = run(input, p);
        const s = r.steps[0];
        const f0 = s.failover!;
        expect(s.settleMs).not.toBeNull();
        expect(f0.droppedMs).toBe(hold);
        expect(f0.servedMs).toBe(hold + pastMs);
        // Every slot comes before the hold ends: everyone fails over, and goes back after the join.
        expect(f0.failedOver).toBe(users);
        expect(f0.movedTwice).toBe(users);
        expect(s.disconnected).toBe(2 * users);
        expect(r.finalConnections).toEqual(input.initialLoads);
        // Nothing reaches the node before the fleet takes it back, a settle window after its process serves; then its
        // users come at the join's split of what it declares, warming up since it began serving.
        const arrivals = r.series.arrivalsPerSec[node];
        const serves = hold + pastMs;
        const senders = input.steps[0].failover!().length;
        for (let sec = 0; sec < arrivals.length; sec++) {
          if ((sec + 1) * 1000 <= serves + SERVES_BEFORE_STEP_MS) expect(arrivals[sec], `second ${sec}`).toBe(0);
          else expect(arrivals[sec], `second ${sec}`).toBeLessThanOrEqual(Math.ceil(warmingRate(p.acceptRate, (sec + 1) * 1000 - serves, p.warmupMs) * (1 + p.tickMs / 1000 + LANE_BURST_MS / 1000)) + senders);
        }
      }),
      { numRuns: 30, seed: 20261203 },
    );
  });

  it('holds the node as the agent asks: restartBackInMs + the slots\' spread + livenessTimeoutMs, or the liveness timeout alone when that is more than a record may ask', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 300_000 }), (users, acceptRate, backInMs) => {
        const conns = Array.from({ length: users }, (_, k) => ({ userId: `u${k}` }) as unknown as ClientConnection);
        const asked = backInMs + restartSlots(conns, acceptRate, backInMs).spreadMs + AGENT.livenessTimeoutMs;
        expect(requestedHoldMs(users, acceptRate, backInMs)).toBe(asked);
        expect(restartHoldMs(users, acceptRate, backInMs)).toBe(asked <= RECORD_LIMITS.maxHoldMs ? asked : AGENT.livenessTimeoutMs);
      }),
      { seed: 7, numRuns: 200 },
    );
    // 600,000 users at 1,000/s ask for more than a record may hold: the fleet times the node out like a crash.
    expect(restartHoldMs(600_000, 1000, 10_000)).toBe(AGENT.livenessTimeoutMs);
  });
});

describe('restart in place, clients that ignore the restart frame', () => {
  it('that share is closed with no slot, comes back at once, fails over to a stand-in and goes back once the node serves: it moves twice (property, fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(deployFleetArb, pacingArb, fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1000, max: 15_000 }), async (f, pacing, ignorePct, backInMs) => {
        const node = `node-${f.pick}`;
        const { input } = await stormInput(f.nodes, f.users, restartOf(node));
        const users = input.initialLoads[node];
        // They come back within 1.5 rtt + backoffBaseMs (250 ms) and a tick: well before the node serves.
        const p = resolveStormParams({ ...pacing, restartBackInMs: backInMs, ignorePct, acceptPerSec: 1e7, maxStepMs: 600_000 });
        const r = run(input, p);
        const s = r.steps[0];
        const f0 = s.failover!;
        const ignored = Math.floor((users * ignorePct) / 100);
        expect(s.settleMs).not.toBeNull();
        expect(f0.ignored).toBe(ignored);
        expect(s.restarted).toBe(users - ignored);
        expect(f0.failedOver).toBe(ignored);
        expect(f0.movedTwice).toBe(ignored);
        expect(r.finalConnections).toEqual(input.initialLoads);
        for (const mode of ['lb'] as const) expect(Object.values(run(input, p, mode).finalConnections).reduce((a, b) => a + b, 0)).toBe(f.users);
      }),
      { numRuns: 30, seed: 20261204 },
    );
  });
});

describe('where arrivals at a down node go', () => {
  it('splits every crowd over the stand-ins in proportion: each within one user of its share of all so far (property, fixed seed)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 12 }).filter((w) => w.some((x) => x > 0)), fc.array(fc.nat({ max: 500 }), { maxLength: 40 }), (weights, crowds) => {
        const parts = new Apportioner(weights);
        const given = weights.map(() => 0);
        const sum = weights.reduce((a, b) => a + b, 0);
        let total = 0;
        for (const n of crowds) {
          const out = parts.take(n);
          expect(out.reduce((a, b) => a + b, 0)).toBe(n);
          out.forEach((x, j) => {
            expect(x).toBeGreaterThanOrEqual(0);
            given[j] += x;
          });
          total += n;
          weights.forEach((w, j) => expect(Math.abs(given[j] - (total * w) / sum)).toBeLessThan(1));
        }
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it.each(['ring', 'maglev', 'rendezvous'] as const)('%s: the stand-ins are where a crash of the node sends its users, all of them', async (algorithm) => {
    const crash = await stormInput(6, 30_000, [{ kind: 'crash', ids: ['node-2'] }], algorithm);
    const restart = await stormInput(6, 30_000, restartOf('node-2'), algorithm);
    const flows = restart.input.steps[0].failover!();
    const crashed = crash.input.steps[0].flows.filter((x) => x.from === 'node-2').map((x) => ({ to: x.to, users: x.users }));
    expect([...flows].sort((a, b) => (a.to < b.to ? -1 : 1))).toEqual(crashed.sort((a, b) => (a.to < b.to ? -1 : 1)));
    expect(flows.reduce((a, x) => a + x.users, 0)).toBe(restart.input.initialLoads['node-2']);
    expect(failoverFlows(restart.rings[0].prev, 'node-2', new Uint32Array())).toEqual([]);
  });
});

describe('restart failover on the command line and in the reports', () => {
  const base = ['storm', '-n', '4', '-u', '8000', '--rolling-deploy', '--deploy', 'restart', '--restart-back-in-ms', '2000'];

  it('--restart-takes-ms: moved twice per restart step in JSON, the text and the HTML', async () => {
    const planned = JSON.parse((await runCli([...base, '--json'])).out) as StormReport;
    expect(planned.params.restartTakesMs).toBeUndefined();
    expect(planned.targeted.steps.every((s) => s.failover?.movedTwice === 0)).toBe(true);
    const late = JSON.parse((await runCli([...base, '--restart-takes-ms', '4000', '--json'])).out) as StormReport;
    expect(late.params.restartTakesMs).toBe(4000);
    for (const s of late.targeted.steps) {
      expect(s.failover!.servedMs).toBe(4000);
      expect(s.failover!.movedTwice).toBeGreaterThan(0);
    }
    expect(late.lb.steps.every((s) => s.failover === undefined)).toBe(true);
    expect(late.targeted.series.standIns!.some((n) => n > 0)).toBe(true);
    const twice = late.targeted.steps.reduce((a, s) => a + s.failover!.movedTwice, 0);
    const text = (await runCli([...base, '--restart-takes-ms', '4000'])).out;
    expect(text).toContain('moved twice');
    expect(text).toContain('restartTakesMs; restartBackInMs 2.00 s as planned');
    expect(text).toMatch(new RegExp(`WARNING restart in place: the new process served 4\\.00 s after the restart, against restartBackInMs 2\\.00 s: ${twice.toLocaleString('en-US')} users in 4 restarts failed over`));
    const html = renderHtml(late);
    expect(html).toContain('<th>moved twice</th>');
    expect(html).toContain('on stand-ins');
    // As planned, the text says nothing of it.
    expect((await runCli(base)).out).not.toContain('moved twice');
  });

  it('reads storm.restartTakesMs in a scenario, and refuses a negative one', async () => {
    const bad = await runCli([...base, '--restart-takes-ms', '-5']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/restartTakesMs/);
    expect(() => resolveStormParams({ restartTakesMs: Number.NaN })).toThrow(/restartTakesMs/);
    const file = fileURLToPath(new URL('../scenarios/restart-late.yaml', import.meta.url));
    const scenario = JSON.parse((await runCli(['storm', '--scenario', file, '--users', '24000', '--json'])).out) as StormReport;
    expect(scenario.params.restartTakesMs).toBe(15_000);
    expect(scenario.targeted.steps.every((s) => s.failover!.movedTwice > 0)).toBe(true);
  });
});
