// Model-based test of many sessions per user: users open and close tabs (each tab a session, a socket of its
// own) while nodes join, drain, close and crash and messages are published to users. It drives the same fleet
// as the rebalancing model (fleet.ts: the agent's Registration, TopologyTracker, EpochAgreement, Rebalancer,
// pacer and Admitter on one ManualClock); delivery is the agent's wiring of it (the Admitter attaches each
// session at the position its client reports and detaches it on close or displacement) over a feed that reads
// the fleet's log. Invariants, after every step and every settle:
// - no session is closed by an agent while its user holds no more than the limit (no duplicate closes), and
//   past the limit only the oldest session goes, with SESSION_LIMIT;
// - a session never receives a position twice, out of order, or of another user;
// - once settled, every session of a user is on the same node, its owner, and has received every message of
//   its user published since it opened, exactly once, in order; each tab of a moved user got one reconnect frame.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FLEET, emptyStats, type Fleet, type FleetConfig, type FleetStats } from './fleet.js';
import { Advance, Depart, FleetCommand, Join, Restart, Settle, expectFailure, fleetModel, runCommands, settledFleet, type FleetModel } from './fleet-commands.js';

const LIMITS = { pool: ['n0', 'n1', 'n2', 'n3', 'n4'], maxServing: 4, maxUsers: 0 };
const USERS = 24;
const LIMIT = 4;

const userOf = (pick: number) => `u${pick % USERS}`;

/** A user opens tabs; past the limit its oldest sessions are closed SESSION_LIMIT (the model expects exactly that). */
class OpenTabs extends FleetCommand {
  constructor(readonly pick: number, readonly count: number) {
    super();
  }
  check() {
    return true;
  }
  async act(_m: FleetModel, fleet: Fleet) {
    await fleet.openTabs(userOf(this.pick), this.count);
  }
  toString = () => `OpenTabs(${userOf(this.pick)}, ${this.count})`;
}

class CloseTab extends FleetCommand {
  constructor(readonly pick: number) {
    super();
  }
  check() {
    return true;
  }
  async act(_m: FleetModel, fleet: Fleet) {
    const ids = [...fleet.users.keys()];
    if (ids.length === 0) return;
    await fleet.disconnect([ids[this.pick % ids.length]]);
  }
  toString = () => `CloseTab(#${this.pick})`;
}

class Publish extends FleetCommand {
  constructor(readonly pick: number, readonly count: number) {
    super();
  }
  check() {
    return true;
  }
  async act(_m: FleetModel, fleet: Fleet) {
    for (let i = 0; i < this.count; i++) await fleet.publish(userOf(this.pick + i));
  }
  toString = () => `Publish(${this.count} from ${userOf(this.pick)})`;
}

const pick = fc.nat({ max: 1_000 });
const commands = fc.commands(
  [
    fc.tuple(pick, fc.integer({ min: 0, max: 60 })).map(([p, l]) => new Join(p, l)),
    fc.tuple(fc.constantFrom('drain' as const, 'close' as const, 'crash' as const), pick).map(([how, p]) => new Depart(how, p)),
    fc.tuple(pick, fc.constantFrom(0, 1_500, 3_500)).map(([p, after]) => new Restart(p, after, 20)),
    fc.constantFrom(50, 300, 1_500, 6_000).map((ms) => new Advance(ms)),
    fc.constantFrom(50, 300, 1_500).map((ms) => new Advance(ms)),
    fc.tuple(pick, fc.integer({ min: 1, max: 3 })).map(([p, n]) => new OpenTabs(p, n)),
    fc.tuple(pick, fc.integer({ min: 1, max: 3 })).map(([p, n]) => new OpenTabs(p, n)),
    pick.map((p) => new CloseTab(p)),
    fc.tuple(pick, fc.integer({ min: 1, max: 8 })).map(([p, n]) => new Publish(p, n)),
    fc.tuple(pick, fc.integer({ min: 1, max: 8 })).map(([p, n]) => new Publish(p, n)),
    fc.constant(new Settle()),
  ],
  { maxCommands: 30, size: '+1' },
);

/** Three nodes, USERS users with 1-4 tabs each (seeded), a few messages already stored, settled. */
async function startFleet(config: FleetConfig, tabs: number[]): Promise<{ model: FleetModel; real: Fleet }> {
  const real = await settledFleet(config, [['n0', 0, 0], ['n1', 25, 0], ['n2', 50, 0]], async (fleet) => {
    for (let u = 0; u < USERS; u++) await fleet.openTabs(`u${u}`, tabs[u]);
    for (let u = 0; u < USERS; u += 3) await fleet.publish(`u${u}`);
  });
  return { model: fleetModel(LIMITS, ['n0', 'n1', 'n2']), real };
}

function property(config: Omit<FleetConfig, 'seed'>, totals?: FleetStats) {
  return fc.asyncProperty(fc.nat(), fc.array(fc.integer({ min: 1, max: LIMIT }), { minLength: USERS, maxLength: USERS }), commands, async (seed, tabs, cmds) =>
    runCommands(await startFleet({ ...config, seed }, tabs), cmds, totals),
  );
}

const RUNS = 60;
const SEED = 20_261_129;
const SESSIONS: Omit<FleetConfig, 'seed'> = { ...DEFAULT_FLEET, maxSessionsPerUser: LIMIT };

describe('many sessions per user (model-based)', () => {
  it('every session of a user on its owner once settled, each message once and in order to each session, no session closed below the limit', async () => {
    const totals = emptyStats();
    await fc.assert(property(SESSIONS, totals), { seed: SEED, numRuns: RUNS });
    console.log(`sessions, ${RUNS} runs: ${JSON.stringify(totals)}`);
    // The runs exercised what the invariants speak about.
    expect(totals.changes).toBeGreaterThan(RUNS);
    expect(totals.frames).toBeGreaterThan(500);
    expect(totals.failovers).toBeGreaterThan(20);
    expect(totals.restarts).toBeGreaterThan(10);
    expect(totals.returned).toBeGreaterThan(10);
    expect(totals.sessionLimitCloses).toBeGreaterThan(20);
    expect(totals.delivered).toBeGreaterThan(1_000);
  });
});

describe('the sessions model catches broken parts', () => {
  it('an agent that holds one socket per user (the old REPLACED behaviour) closes sessions below the limit', async () => {
    await expectFailure(property({ ...SESSIONS, agentSessionLimit: 1 }), { seed: SEED, numRuns: RUNS }, /closed \S+'s socket \(code 4006\) instead of letting it leave/);
  });
});
