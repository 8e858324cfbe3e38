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
import { DEFAULT_FLEET, Fleet, emptyStats, type FleetConfig } from './fleet.js';

const POOL = ['n0', 'n1', 'n2', 'n3', 'n4'];
const MAX_SERVING = 4;
const MAX_USERS = 120;

interface Model {
  serving: Set<string>;
  draining: Set<string>;
  nextUser: number;
  users: number;
}

const sorted = (s: Set<string>) => [...s].sort();
const pickServing = (m: Readonly<Model>, pick: number) => {
  const ids = sorted(m.serving);
  return ids[pick % ids.length];
};

abstract class DeployCommand implements fc.AsyncCommand<Model, Fleet> {
  abstract check(m: Readonly<Model>): boolean;
  async run(m: Model, fleet: Fleet): Promise<void> {
    await this.act(m, fleet);
    const v = fleet.violations;
    if (v.length > 0) throw new Error(`${this} breached an invariant at t=${fleet.clock.now()} ms:\n${v.slice(0, 8).join('\n')}${v.length > 8 ? `\n...and ${v.length - 8} more` : ''}`);
  }
  abstract act(m: Model, fleet: Fleet): Promise<void>;
  abstract toString(): string;
}

class Join extends DeployCommand {
  constructor(readonly pick: number, readonly latencyMs: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.serving.size + m.draining.size < MAX_SERVING;
  }
  async act(m: Model, fleet: Fleet) {
    const free = POOL.filter((id) => !m.serving.has(id) && !m.draining.has(id));
    const id = free[this.pick % free.length];
    await fleet.join(id, this.latencyMs, 0);
    m.serving.add(id);
  }
  toString = () => `Join(#${this.pick}, latency ${this.latencyMs} ms)`;
}

class Depart extends DeployCommand {
  constructor(readonly how: 'drain' | 'close' | 'crash', readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.serving.size >= 2;
  }
  async act(m: Model, fleet: Fleet) {
    const id = pickServing(m, this.pick);
    m.serving.delete(id);
    if (this.how === 'drain') {
      m.draining.add(id);
      await fleet.drain(id);
    } else if (this.how === 'close') await fleet.close(id);
    else await fleet.crash(id);
  }
  toString = () => `${this.how[0].toUpperCase()}${this.how.slice(1)}(#${this.pick})`;
}

/** A crash and a start again under the same id: its users fail over and come back (or move back once it rejoins). */
class Restart extends DeployCommand {
  constructor(readonly pick: number, readonly afterMs: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.serving.size >= 2;
  }
  async act(m: Model, fleet: Fleet) {
    const id = pickServing(m, this.pick);
    await fleet.crash(id);
    await fleet.advance(this.afterMs);
    await fleet.join(id, 10, 0);
  }
  toString = () => `Restart(#${this.pick}, after ${this.afterMs} ms)`;
}

/** Handoff deploy of a serving node (another process, same id, another URL), with `deadlineMs` for the old one. */
class Handoff extends DeployCommand {
  constructor(readonly pick: number, readonly deadlineMs: number, readonly latencyMs: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.serving.size >= 1;
  }
  async act(m: Model, fleet: Fleet) {
    if (await fleet.handoff(pickServing(m, this.pick), this.deadlineMs, this.latencyMs)) m.draining.clear();
  }
  toString = () => `Handoff(#${this.pick}, deadline ${this.deadlineMs} ms, latency ${this.latencyMs} ms)`;
}

/** Restart in place of a serving node: users told to come back after `backInMs`; the next process starts `downMs` later. */
class RestartInPlace extends DeployCommand {
  constructor(readonly pick: number, readonly backInMs: number, readonly downMs: number, readonly latencyMs: number) {
    super();
  }
  check(m: Readonly<Model>) {
    // Past the hold the node times out; with no other node its users would have nowhere to go.
    return m.serving.size >= 2;
  }
  async act(m: Model, fleet: Fleet) {
    if (await fleet.restartInPlace(pickServing(m, this.pick), this.backInMs, this.downMs, this.latencyMs)) m.draining.clear();
  }
  toString = () => `RestartInPlace(#${this.pick}, back in ${this.backInMs} ms, down ${this.downMs} ms, latency ${this.latencyMs} ms)`;
}

class LoseHeartbeat extends DeployCommand {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.serving.size > 0;
  }
  async act(m: Model, fleet: Fleet) {
    fleet.loseHeartbeat(pickServing(m, this.pick));
  }
  toString = () => `LoseHeartbeat(#${this.pick})`;
}

class Advance extends DeployCommand {
  constructor(readonly ms: number) {
    super();
  }
  check() {
    return true;
  }
  async act(_m: Model, fleet: Fleet) {
    await fleet.advance(this.ms);
  }
  toString = () => `Advance(${this.ms} ms)`;
}

class Connect extends DeployCommand {
  constructor(readonly count: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.users < MAX_USERS;
  }
  async act(m: Model, fleet: Fleet) {
    const n = Math.min(this.count, MAX_USERS - m.users);
    const ids = Array.from({ length: n }, (_, i) => `user-${m.nextUser + i}`);
    m.nextUser += n;
    m.users += n;
    await fleet.connect(ids);
  }
  toString = () => `Connect(${this.count})`;
}

/** More sessions of a user already connected (within the agent's per-user limit). */
class OpenTabs extends DeployCommand {
  constructor(readonly pick: number, readonly count: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.users > 0;
  }
  async act(m: Model, fleet: Fleet) {
    const user = `user-${this.pick % m.nextUser}`;
    if (!fleet.users.has(user)) return;
    const room = 4 - fleet.tabsOf(user).length;
    if (room > 0) await fleet.openTabs(user, Math.min(room, this.count));
  }
  toString = () => `OpenTabs(#${this.pick}, ${this.count})`;
}

class Disconnect extends DeployCommand {
  constructor(readonly count: number, readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.users > 0;
  }
  async act(m: Model, fleet: Fleet) {
    const ids = [...fleet.users.keys()].filter((id) => !id.includes('#'));
    if (ids.length === 0) return;
    const start = this.pick % ids.length;
    const gone = ids.slice(start, start + this.count);
    const tabs = gone.flatMap((u) => fleet.tabsOf(u).map((t) => t.id));
    m.users -= gone.length;
    await fleet.disconnect(tabs);
  }
  toString = () => `Disconnect(${this.count} from #${this.pick})`;
}

class Settle extends DeployCommand {
  check() {
    return true;
  }
  async act(m: Model, fleet: Fleet) {
    expect(await fleet.settle(), describeFleet(fleet)).toBe(true);
    await fleet.checkSettled();
    m.draining.clear();
  }
  toString = () => 'Settle';
}

function describeFleet(fleet: Fleet): string {
  const nodes = [...fleet.nodes.values()].map((n) => `${n.id}:${n.status} ring=[${n.ring.nodes.map((r) => r.id)}] sessions=${n.registry.size} standIns=${n.registry.standIns.size} pacer=${n.rebalancer.pending}`);
  const pending = [...fleet.users.values()].filter((u) => u.pending).length;
  return `fleet did not settle at t=${fleet.clock.now()}: ${nodes.join('; ')}; ${pending} clients not connected`;
}

const pick = fc.nat({ max: 1_000 });
const latency = fc.integer({ min: 0, max: 80 });
const commands = fc.commands(
  [
    fc.tuple(pick, latency).map(([p, l]) => new Join(p, l)),
    fc.tuple(fc.constantFrom('drain' as const, 'close' as const, 'crash' as const), pick).map(([how, p]) => new Depart(how, p)),
    fc.tuple(pick, fc.constantFrom(0, 1_500, 12_000)).map(([p, after]) => new Restart(p, after)),
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
const specs = fc.array(fc.integer({ min: 20, max: 200 }), { minLength: POOL.length, maxLength: POOL.length });

async function startFleet(config: FleetConfig): Promise<{ model: Model; real: Fleet }> {
  const fleet = new Fleet(config);
  await fleet.join('n0', 0, 0);
  await fleet.join('n1', 25, 0);
  await fleet.join('n2', 60, 0);
  await fleet.connect(Array.from({ length: 60 }, (_, i) => `user-${i}`));
  for (let i = 0; i < 60; i += 7) await fleet.openTabs(`user-${i}`, 1 + (i % 3));
  if (!(await fleet.settle())) throw new Error(describeFleet(fleet));
  await fleet.checkSettled();
  if (fleet.violations.length > 0) throw new Error(fleet.violations.join('\n'));
  return { model: { serving: new Set(['n0', 'n1', 'n2']), draining: new Set(), nextUser: 60, users: 60 }, real: fleet };
}

export const deployTotals = () => ({ ...emptyStats(), handoffs: 0, handedOff: 0, handoffStandInsHome: 0, remainders: 0, restarts: 0, restartedUsers: 0, cameBackInTime: 0, failedOverPastSlot: 0 });

function property(config: Omit<FleetConfig, 'seed' | 'nodeSpecs'>, totals?: ReturnType<typeof deployTotals>) {
  return fc.asyncProperty(fc.nat(), specs, commands, async (seed, rates, cmds) => {
    const nodeSpecs = Object.fromEntries(POOL.map((id, i) => [id, { acceptRate: rates[i] }]));
    const setup = await startFleet({ ...config, seed, nodeSpecs });
    try {
      await fc.asyncModelRun(() => setup, [...cmds, new Settle()]);
    } finally {
      setup.real.shutdown();
      if (totals) {
        const all = { ...setup.real.stats, ...setup.real.deployStats };
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += all[k];
      }
    }
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
  const fails = async (brokenDeploy: FleetConfig['brokenDeploy'], reason: RegExp) => {
    let failure: unknown;
    try {
      await fc.assert(property({ ...DEFAULT_FLEET, brokenDeploy }), { seed: SEED, numRuns: RUNS, endOnFailure: true });
    } catch (error) {
      failure = error;
    }
    expect(failure, 'the property passed').toBeInstanceOf(Error);
    expect(String((failure as Error).cause ?? failure)).toMatch(reason);
  };

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
