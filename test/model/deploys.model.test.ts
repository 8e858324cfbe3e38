// Model-based test of the two deploys that replace a node's process (fleet.ts: the agent's own Registration,
// TopologyTracker, EpochAgreement, Rebalancer, pacer and Admitter, and its deploy code, handoff.ts and
// restart-in-place.ts, on one ManualClock). Random fleets (accept rates, latencies), random users with one or
// several sessions, and random sequences of joins, drains, closes, crashes, restarts, lost heartbeats, passing
// time, handoffs and restarts in place. Each deploy runs once the fleet is quiet, to its end, and is checked
// as it goes (see Fleet.handoff and Fleet.restartInPlace):
// - handoff: each user of the node moves exactly once, to the successor (a stand-in: home to its owner), nobody
//   else gets a frame or loses its connection, ring and epoch stay, arrivals at the successor within its accept
//   rate (A x (T + 50 ms) + 1);
// - restart in place: each session gets one restart frame, all sessions of a user one slot, none before
//   `backInMs`; users whose slot comes once the next process serves come back once, to the node, at their slot,
//   within its accept rate; within the hold nobody else is touched and ring and epoch stay; past it normal failover.
// After every command no invariant of the fleet may be breached; after the final quiet period every session is on
// its owner (convergence), one ring, one epoch.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FLEET, emptyStats, type Fleet, type FleetConfig } from './fleet.js';
import { Advance, Connect, Depart, Disconnect, FleetCommand, Join, Restart, Settle, expectFailure, fleetModel, pickServing, runCommands, settledFleet, type FleetModel } from './fleet-commands.js';

const LIMITS = { pool: ['n0', 'n1', 'n2', 'n3', 'n4'], maxServing: 4, maxUsers: 120 };

/** Handoff deploy of a serving node (another process, same id, another URL), with `deadlineMs` for the old one. */
class Handoff extends FleetCommand {
  constructor(readonly pick: number, readonly deadlineMs: number, readonly latencyMs: number) {
    super();
  }
  check(m: Readonly<FleetModel>) {
    return m.serving.size >= 1;
  }
  async act(m: FleetModel, fleet: Fleet) {
    if (await fleet.handoff(pickServing(m, this.pick), this.deadlineMs, this.latencyMs)) m.draining.clear();
  }
  toString = () => `Handoff(#${this.pick}, deadline ${this.deadlineMs} ms, latency ${this.latencyMs} ms)`;
}

/** Restart in place of a serving node: users told to come back after `backInMs`; the next process starts `downMs` later. */
class RestartInPlace extends FleetCommand {
  constructor(readonly pick: number, readonly backInMs: number, readonly downMs: number, readonly latencyMs: number) {
    super();
  }
  check(m: Readonly<FleetModel>) {
    // Past the hold the node times out; with no other node its users would have nowhere to go.
    return m.serving.size >= 2;
  }
  async act(m: FleetModel, fleet: Fleet) {
    if (await fleet.restartInPlace(pickServing(m, this.pick), this.backInMs, this.downMs, this.latencyMs)) m.draining.clear();
  }
  toString = () => `RestartInPlace(#${this.pick}, back in ${this.backInMs} ms, down ${this.downMs} ms, latency ${this.latencyMs} ms)`;
}

class LoseHeartbeat extends FleetCommand {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<FleetModel>) {
    return m.serving.size > 0;
  }
  async act(m: FleetModel, fleet: Fleet) {
    fleet.loseHeartbeat(pickServing(m, this.pick));
  }
  toString = () => `LoseHeartbeat(#${this.pick})`;
}

/** More sessions of a user already connected (within the agent's per-user limit). */
class OpenTabs extends FleetCommand {
  constructor(readonly pick: number, readonly count: number) {
    super();
  }
  check(m: Readonly<FleetModel>) {
    return m.users > 0;
  }
  async act(m: FleetModel, fleet: Fleet) {
    const user = `user-${this.pick % m.nextUser}`;
    if (!fleet.users.has(user)) return;
    const room = 4 - fleet.tabsOf(user).length;
    if (room > 0) await fleet.openTabs(user, Math.min(room, this.count));
  }
  toString = () => `OpenTabs(#${this.pick}, ${this.count})`;
}

const pick = fc.nat({ max: 1_000 });
const latency = fc.integer({ min: 0, max: 80 });
const commands = fc.commands(
  [
    fc.tuple(pick, latency).map(([p, l]) => new Join(p, l)),
    fc.tuple(fc.constantFrom('drain' as const, 'close' as const, 'crash' as const), pick).map(([how, p]) => new Depart(how, p)),
    fc.tuple(pick, fc.constantFrom(0, 1_500, 12_000)).map(([p, after]) => new Restart(p, after, 10)),
    // A deadline that fits the load, and one too short for it (the rest get delayed frames).
    fc.tuple(pick, fc.constantFrom(30_000, 600), latency).map(([p, d, l]) => new Handoff(p, d, l)),
    fc.tuple(pick, fc.constantFrom(2_000, 5_000), fc.constantFrom(0, 0, 1_000, 3_000, 40_000), latency).map(([p, b, d, l]) => new RestartInPlace(p, b, d, l)),
    fc.tuple(pick, fc.constantFrom(2_000, 5_000), fc.constantFrom(0, 1_000), latency).map(([p, b, d, l]) => new RestartInPlace(p, b, d, l)),
    pick.map((p) => new LoseHeartbeat(p)),
    fc.constantFrom(50, 900, 3_000).map((ms) => new Advance(ms)),
    fc.integer({ min: 1, max: 40 }).map((n) => new Connect(n)),
    fc.tuple(pick, fc.integer({ min: 1, max: 3 })).map(([p, n]) => new OpenTabs(p, n)),
    fc.tuple(fc.integer({ min: 1, max: 10 }), pick).map(([n, p]) => new Disconnect(n, p)),
    fc.constant(new Settle()),
  ],
  { maxCommands: 14, size: '+1' },
);

/** Accept rates low enough that pacing shows: 20 to 200 users per second. */
const specs = fc.array(fc.integer({ min: 20, max: 200 }), { minLength: LIMITS.pool.length, maxLength: LIMITS.pool.length });

async function startFleet(config: FleetConfig): Promise<{ model: FleetModel; real: Fleet }> {
  const real = await settledFleet(config, [['n0', 0, 0], ['n1', 25, 0], ['n2', 60, 0]], async (fleet) => {
    await fleet.connect(Array.from({ length: 60 }, (_, i) => `user-${i}`));
    for (let i = 0; i < 60; i += 7) await fleet.openTabs(`user-${i}`, 1 + (i % 3));
  });
  return { model: fleetModel(LIMITS, ['n0', 'n1', 'n2'], 60), real };
}

export const deployTotals = () => ({ ...emptyStats(), handoffs: 0, handedOff: 0, handoffStandInsHome: 0, remainders: 0, restarts: 0, restartedUsers: 0, cameBackInTime: 0, failedOverPastSlot: 0 });

function property(config: Omit<FleetConfig, 'seed' | 'nodeSpecs'>, totals?: ReturnType<typeof deployTotals>) {
  return fc.asyncProperty(fc.nat(), specs, commands, async (seed, rates, cmds) => {
    const nodeSpecs = Object.fromEntries(LIMITS.pool.map((id, i) => [id, { acceptRate: rates[i] }]));
    await runCommands(await startFleet({ ...config, seed, nodeSpecs }), cmds, totals, (fleet) => ({ ...fleet.stats, ...fleet.deployStats }));
  });
}

const RUNS = 100;
const SEED = 20_261_130;

describe('deploys (model-based)', () => {
  it('handoff and restart in place move each affected user exactly once and nobody else, within the receiving node\'s accept rate; the fleet converges after quiet', async () => {
    const totals = deployTotals();
    await fc.assert(property(DEFAULT_FLEET, totals), { seed: SEED, numRuns: RUNS });
    console.log(`deploys, ${RUNS} runs: ${JSON.stringify(totals)}`);
    // The runs must have exercised what the invariants speak about.
    expect(totals.handoffs).toBeGreaterThan(RUNS / 2);
    expect(totals.handedOff).toBeGreaterThan(500);
    expect(totals.remainders).toBeGreaterThan(3);
    expect(totals.restarts).toBeGreaterThan(RUNS / 2);
    expect(totals.cameBackInTime).toBeGreaterThan(500);
    expect(totals.failedOverPastSlot).toBeGreaterThan(20);
  });
});

describe('the deploy model catches broken deploys', () => {
  const fails = (brokenDeploy: FleetConfig['brokenDeploy'], reason: RegExp) => expectFailure(property({ ...DEFAULT_FLEET, brokenDeploy }), { seed: SEED, numRuns: RUNS }, reason);

  it('a handoff paced at twice the successor\'s accept rate', async () => {
    await fails('handoff-too-fast', /arrived at n\d faster than its accept rate/);
  });

  it('a handoff that sends its frames before its ring names the successor\'s URL', async () => {
    await fails('handoff-early', /sent \S+ to n\d at ws:\/\/n\d\.test\/ws \(it serves at ws:\/\/n\d\.test\/ws\?g=/);
  });

  it('a restart in place whose slots are spread at four times the node\'s accept rate', async () => {
    await fails('restart-too-fast', /arrived at n\d faster than its accept rate/);
  });
});
