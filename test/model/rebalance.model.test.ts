// Model-based test of membership and rebalancing: random joins, drains, closes, crashes, restarts,
// lost heartbeats, passing time and connecting clients, run against the agent's own modules (registration,
// liveness and settle window, epoch agreement, the Rebalancer with its planner and pacer, admission) on
// simulated time (see fleet.ts). After every step no invariant may have been breached; after every settle
// the fleet must agree on one ring under one epoch, the store's, and every user must be on its owner.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planMoves, type Plan, type PlanInput } from '@wsring/node-agent/internal';
import { DEFAULT_FLEET, emptyStats, type Fleet, type FleetConfig, type FleetStats } from './fleet.js';
import { Advance, Connect, Depart, Disconnect, FleetCommand, Join, Restart, Settle, expectFailure, fleetModel, runCommands, settledFleet, sorted, type FleetModel } from './fleet-commands.js';

/** Node ids a run may start (a crashed or departed id may come back, a crashed one at any time), at most 5 running, 400 users. */
const LIMITS = { pool: ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'], maxServing: 5, maxUsers: 400 };

class LoseHeartbeat extends FleetCommand {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<FleetModel>) {
    return m.serving.size + m.draining.size > 0;
  }
  async act(m: FleetModel, fleet: Fleet) {
    const ids = [...sorted(m.serving), ...sorted(m.draining)];
    fleet.loseHeartbeat(ids[this.pick % ids.length]);
  }
  toString = () => `LoseHeartbeat(#${this.pick})`;
}

/** Time passes through an outage of the store. */
class Outage extends FleetCommand {
  constructor(readonly ms: number) {
    super();
  }
  check() {
    return true;
  }
  async act(_m: FleetModel, fleet: Fleet) {
    await fleet.outage(this.ms);
  }
  toString = () => `Outage(${this.ms} ms)`;
}

const pick = fc.nat({ max: 1_000 });
const join = fc.tuple(pick, fc.integer({ min: 0, max: 80 }), fc.integer({ min: -5_000, max: 5_000 })).map(([p, l, o]) => new Join(p, l, o));
const depart = fc.tuple(fc.constantFrom('drain' as const, 'close' as const, 'crash' as const), pick).map(([how, p]) => new Depart(how, p));
// Back within a heartbeat, within the liveness timeout, or about when the fleet times it out.
const restart = fc
  .tuple(pick, fc.constantFrom(0, 300, 1_500, 3_500), fc.integer({ min: 0, max: 80 }), fc.integer({ min: -5_000, max: 5_000 }))
  .map(([p, after, l, o]) => new Restart(p, after, l, o));
// Short steps let changes overlap with settle windows, liveness timeouts and pacing; long ones let them finish.
const advance = fc.constantFrom(50, 300, 900, 1_500, 3_000, 6_000).map((ms) => new Advance(ms));
// Membership changes, lost heartbeats and passing time are drawn twice as often as the rest.
const commands = fc.commands(
  [
    join,
    join,
    depart,
    depart,
    restart,
    advance,
    advance,
    pick.map((p) => new LoseHeartbeat(p)),
    pick.map((p) => new LoseHeartbeat(p)),
    fc.constantFrom(500, 3_000, 10_000).map((ms) => new Outage(ms)),
    fc.integer({ min: 1, max: 60 }).map((n) => new Connect(n)),
    fc.tuple(fc.integer({ min: 1, max: 20 }), pick).map(([n, p]) => new Disconnect(n, p)),
    fc.constant(new Settle()),
  ],
  { maxCommands: 40, size: '+1' },
);

/** Three nodes with distinct delivery latencies and clocks, 60 users, settled: where every run starts. */
async function startFleet(config: FleetConfig): Promise<{ model: FleetModel; real: Fleet }> {
  const users = Array.from({ length: 60 }, (_, i) => `user-${i}`);
  const real = await settledFleet(config, [['n0', 0, 0], ['n1', 25, 1_234], ['n2', 60, -3_210]], (fleet) => fleet.connect(users));
  return { model: fleetModel(LIMITS, ['n0', 'n1', 'n2'], users.length), real };
}

/** Run the model with `config` over generated command sequences. */
function property(config: Omit<FleetConfig, 'seed'>, totals?: FleetStats) {
  return fc.asyncProperty(fc.nat(), commands, async (seed, cmds) => runCommands(await startFleet({ ...config, seed }), cmds, totals));
}

const RUNS = 150;
const SEED = 20_251_125;

/** Agent defaults, then the tightest legal timing: no settle window, no jitter, one reconnect at a time, liveness at twice the heartbeat. */
const CONFIGS: [string, Omit<FleetConfig, 'seed'>][] = [
  ['agent defaults', DEFAULT_FLEET],
  [
    'tight timing',
    { ...DEFAULT_FLEET, settleMs: 0, livenessTimeoutMs: 2 * DEFAULT_FLEET.heartbeatMs, pacing: { ratePerSec: 50, burst: 1, jitterMs: 0 } },
  ],
];

describe('membership and rebalancing (model-based)', () => {
  it.each(CONFIGS)('%s: after settling one ring of the live members everywhere, every user on its owner, nobody moved twice for one change', async (name, config) => {
    const totals = emptyStats();
    await fc.assert(property(config, totals), { seed: SEED, numRuns: RUNS });
    console.log(`${name}, ${RUNS} runs: ${JSON.stringify(totals)}`);
    // The runs must have exercised what the invariants speak about, or passing says little.
    expect(totals.changes).toBeGreaterThan(2 * RUNS);
    expect(totals.frames).toBeGreaterThan(500);
    expect(totals.failovers).toBeGreaterThan(50);
    expect(totals.promoted).toBeGreaterThan(10);
    expect(totals.lostHeartbeats).toBeGreaterThan(30);
    expect(totals.outages).toBeGreaterThan(30);
    expect(totals.restarts).toBeGreaterThan(30);
    expect(totals.returned).toBeGreaterThan(100);
    expect(totals.epochs).toBeGreaterThan(2 * RUNS);
  });
});

/** A planner that also moves one user whose owner did not change. */
function planOneExtra(input: PlanInput, maxPrefs: number): Plan {
  const plan = planMoves(input, maxPrefs);
  const moved = new Set(plan.moves.map((m) => m.userId));
  if (input.next.nodes.length < 2 || input.prev.nodes.length === 0) return plan;
  for (const userId of input.index.keys()) {
    if (moved.has(userId) || input.standIns.has(userId)) continue;
    const to = input.next.nodes.find((n) => n.id !== input.self)?.id as string;
    return { ...plan, moves: [...plan.moves, { userId, to }] };
  }
  return plan;
}

/** A planner that forgets which users are stand-ins. */
function planWithoutStandIns(input: PlanInput, maxPrefs: number): Plan {
  return planMoves({ ...input, standIns: new Map() }, maxPrefs);
}

/** A planner that sends failed-over users on to another node when it should promote them (a second move for one change). */
function planStandInsAway(input: PlanInput, maxPrefs: number): Plan {
  const plan = planMoves(input, maxPrefs);
  const extra = plan.promoted.map((userId) => ({ userId, to: input.next.owners(userId, 2).find((id) => id !== input.self) as string }));
  return { moves: [...plan.moves, ...extra.filter((m) => m.to !== undefined)], promoted: [] };
}

describe('the model catches broken parts', () => {
  /** The property must fail, and for the reason given. */
  const fails = (config: Omit<FleetConfig, 'seed'>, reason: RegExp) => expectFailure(property(config), { seed: SEED, numRuns: RUNS }, reason);

  it('a planner that moves one extra user', async () => {
    await fails({ ...DEFAULT_FLEET, plan: planOneExtra }, /although its owner (did not change|is this node)/);
  });

  it('a planner that ignores stand-ins', async () => {
    await fails({ ...DEFAULT_FLEET, plan: planWithoutStandIns }, /stand-in/);
  });

  it('a planner that moves failed-over users on again once their node owns them', async () => {
    await fails({ ...DEFAULT_FLEET, plan: planStandInsAway }, /moved stand-in \S+ to \S+ although it now owns it/);
  });

  it('an agent that keeps failed-over users when their node restarts within the liveness timeout', async () => {
    await fails({ ...DEFAULT_FLEET, returnStandIns: false }, /is still a stand-in on/);
  });

  it('an epoch agreement that labels each ring locally instead of agreeing it with the fleet', async () => {
    await fails({ ...DEFAULT_FLEET, epochs: 'local' }, /disagree on the epoch|names two rings|the store labels/);
  });

  it('a liveness timeout below one heartbeat with no settle window (one lost heartbeat reshapes the ring)', async () => {
    await fails({ ...DEFAULT_FLEET, settleMs: 0, livenessTimeoutMs: 1.5 * DEFAULT_FLEET.heartbeatMs }, /while n\d was heartbeating/);
  });
});
