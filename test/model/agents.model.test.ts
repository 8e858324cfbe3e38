// The smaller, real-socket variant of the membership model: real agents (createAgent, sharing one
// MemoryMembership) and real @wsring/client instances over loopback sockets, agents and clients on one
// ManualClock (time moves in small steps, the sockets get event-loop turns between them). Each command is
// one fleet event followed by driving the clock until the fleet has settled; then every client must be
// open on its owner, exactly the users the change concerns must have moved, once, and every other client
// kept its socket.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Ring } from '@wsring/ring';
import { createClient, type MoveReason, type WsringClient } from '@wsring/client';
import { createAgent, MemoryMembership, type Agent } from '@wsring/node-agent';
import { ProcessLine } from '@wsring/node-agent/testing';
import { ManualClock } from '../support/manual-clock.js';
import { driveUntil, pass } from '../support/drive.js';

const TIMING = { heartbeatMs: 100, livenessTimeoutMs: 1_000, settleMs: 200 };
const POOL = ['a0', 'a1', 'a2', 'a3', 'a4'];
const START_USERS = 40;

interface Tracked {
  client: WsringClient;
  opens: number;
  moves: MoveReason[];
}

class RealFleet {
  readonly clock = new ManualClock(1_000_000);
  readonly store = new MemoryMembership(() => this.clock.now());
  readonly agents = new Map<string, { agent: Agent; line: ProcessLine }>();
  readonly clients = new Map<string, Tracked>();
  /** Every agent URL ever started: clients bootstrap from any of them. */
  private readonly bootstrap: string[] = [];
  private nextUser = 0;

  async join(id: string, port = 0): Promise<void> {
    const line = new ProcessLine(this.store, () => seen.heartbeatsLost++);
    const agent = await createAgent({ id, membership: line, host: '127.0.0.1', port, clock: this.clock, ...TIMING, pacing: { ratePerSec: 400, burst: 20, jitterMs: 20 } });
    this.agents.set(id, { agent, line });
    const url = `http://127.0.0.1:${agent.port}`;
    if (!this.bootstrap.includes(url)) this.bootstrap.push(url);
  }

  /** Drain: runs on the fleet's clock, which moves until the agent has let its last user go and closed. */
  async drain(id: string): Promise<void> {
    const { agent } = this.agents.get(id)!;
    this.agents.delete(id);
    let drained = false;
    const draining = agent.drain({ deadlineMs: 10_000 }).finally(() => (drained = true));
    await driveUntil(this.clock, () => drained, { maxMs: 10_000, what: `${id} to drain` });
    await draining;
  }

  async close(id: string): Promise<void> {
    const { agent } = this.agents.get(id)!;
    this.agents.delete(id);
    await agent.close();
  }

  /** Sockets cut without a close frame, heartbeats and deregistration gone: what SIGKILL leaves. Returns the port it listened on. */
  async crash(id: string): Promise<number> {
    const { agent, line } = this.agents.get(id)!;
    this.agents.delete(id);
    line.dead = true;
    for (const user of this.clients.keys()) agent.connection(user)?.socket.terminate();
    await agent.close();
    return agent.port!;
  }

  loseHeartbeat(id: string): void {
    this.agents.get(id)!.line.dropNextPut = true;
  }

  connect(count: number): string[] {
    const users: string[] = [];
    for (let i = 0; i < count; i++) {
      const user = `user-${this.nextUser++}`;
      const client = createClient({ user, bootstrap: [...this.bootstrap], backoff: { baseMs: 50, capMs: 400 }, random: () => 0.5, timers: this.clock });
      const tracked: Tracked = { client, opens: 0, moves: [] };
      client.on('open', () => tracked.opens++);
      client.on('moved', (m) => tracked.moves.push(m.reason));
      this.clients.set(user, tracked);
      users.push(user);
    }
    return users;
  }

  ring(): Ring {
    return [...this.agents.values()][0].agent.topology.ring;
  }

  epoch(): number {
    return [...this.agents.values()][0].agent.topology.epoch;
  }

  /** One ring of exactly the running agents, under one epoch, everywhere; every client open on its owner and held there once. */
  settled(): boolean {
    const agents = [...this.agents.values()].map((a) => a.agent);
    const ring = agents[0].topology.ring;
    const { fingerprint, epoch } = agents[0].topology;
    if (agents.some((a) => a.topology.fingerprint !== fingerprint || a.topology.epoch !== epoch)) return false;
    if (ring.nodes.map((n) => n.id).join() !== [...this.agents.keys()].sort().join()) return false;
    if (agents.reduce((sum, a) => sum + a.connections, 0) !== this.clients.size) return false;
    for (const [user, { client }] of this.clients) {
      if (client.state !== 'open' || client.node !== ring.owner(user)) return false;
      if (!this.agents.get(client.node)?.agent.connection(user)) return false;
    }
    return true;
  }

  /** Forget what the clients saw so far: the next change is judged on its own. */
  resetCounts(): void {
    for (const t of this.clients.values()) {
      t.opens = 0;
      t.moves = [];
    }
  }

  async stop(): Promise<void> {
    for (const { client } of this.clients.values()) client.close();
    await Promise.all([...this.agents.values()].map(({ agent }) => agent.close()));
    this.agents.clear();
  }
}

/** What the runs went through, to show they exercised what they claim to. */
const seen = { commands: [] as string[], moves: { reconnect: 0, failover: 0, redirect: 0 } as Record<MoveReason, number>, heartbeatsLost: 0 };

/**
 * Drive the fleet's clock until it has settled; then anything still on its way (a late reconnect, a spurious
 * rebalance) would show within a settle window or two: no agent may plan, send or lose a client in them.
 */
async function waitSettled(fleet: RealFleet, what: string): Promise<void> {
  await driveUntil(fleet.clock, () => fleet.settled(), { maxMs: 20_000, what: `the fleet to settle after ${what}` });
  const late: string[] = [];
  const agents = [...fleet.agents.values()].map((a) => a.agent);
  const listeners = agents.map((agent) => {
    const on = {
      rebalance: (e: { epoch: number }) => late.push(`${agent.id} rebalanced (epoch ${e.epoch})`),
      'rebalance-sent': (e: { sent: number }) => late.push(`${agent.id} sent ${e.sent} reconnect frames`),
      disconnection: (e: { userId: string; code: number }) => late.push(`${agent.id} lost ${e.userId} (${e.code})`),
    };
    agent.on('rebalance', on.rebalance);
    agent.on('rebalance-sent', on['rebalance-sent']);
    agent.on('disconnection', on.disconnection);
    return () => {
      agent.off('rebalance', on.rebalance);
      agent.off('rebalance-sent', on['rebalance-sent']);
      agent.off('disconnection', on.disconnection);
    };
  });
  try {
    await pass(fleet.clock, 2 * TIMING.settleMs);
  } finally {
    for (const off of listeners) off();
  }
  if (late.length > 0 || !fleet.settled()) throw new Error(`fleet settled after ${what} and then changed again: ${late.join('; ') || 'no longer settled'}`);
}

interface Model {
  running: string[];
}

/** How a user must move: by a given reason, by several in turn, or once by whatever path (a closed node's users find their way). */
type Move = MoveReason | MoveReason[] | 'once';

/** Each command makes one change, waits for the fleet to settle, and checks who moved, how, and how often. */
abstract class RealCommand implements fc.AsyncCommand<Model, RealFleet> {
  abstract check(m: Readonly<Model>): boolean;
  abstract toString(): string;
  /** Make the change; return which connected users must move, and how. */
  abstract act(m: Model, fleet: RealFleet, before: Ring): Promise<Map<string, Move>>;
  async run(m: Model, fleet: RealFleet): Promise<void> {
    fleet.resetCounts();
    const before = fleet.ring();
    const epochBefore = fleet.epoch();
    const previous = new Set(fleet.clients.keys());
    const moved = await this.act(m, fleet, before);
    await waitSettled(fleet, this.toString());
    // One change, one epoch: the settle window batches it, and the agents agree on its label.
    expect(fleet.epoch(), 'epoch after the change').toBe(epochBefore + (fleet.ring().fingerprint === before.fingerprint ? 0 : 1));
    seen.commands.push(this.toString());
    for (const t of fleet.clients.values()) for (const r of t.moves) seen.moves[r]++;
    for (const [user, t] of fleet.clients) {
      if (!previous.has(user)) {
        expect(t.opens, `${user}, new, opens once`).toBe(1);
        continue;
      }
      const how = moved.get(user);
      if (how === undefined) {
        expect({ user, opens: t.opens, moves: t.moves }, `${user} must keep its socket`).toEqual({ user, opens: 0, moves: [] });
      } else if (Array.isArray(how)) {
        expect({ user, moves: t.moves }, `${user} moves ${how.join(', then ')}`).toEqual({ user, moves: how });
        expect(t.opens, `${user} opens once per move`).toBe(how.length);
      } else {
        expect({ user, moves: how === 'once' ? t.moves.length : t.moves }, `${user} moves once`).toEqual({ user, moves: how === 'once' ? 1 : [how] });
        expect(t.opens, `${user} opens once`).toBe(1);
      }
    }
  }
}

class Join extends RealCommand {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.running.length < 4;
  }
  async act(m: Model, fleet: RealFleet, before: Ring) {
    const free = POOL.filter((id) => !m.running.includes(id) && !fleet.agents.has(id));
    const id = free[this.pick % free.length];
    await fleet.join(id);
    m.running.push(id);
    const after = before.withNodes([{ id }]);
    return new Map<string, Move>([...fleet.clients.keys()].filter((u) => before.owner(u) !== after.owner(u)).map((u) => [u, 'reconnect']));
  }
  toString = () => `Join(#${this.pick})`;
}

class Depart extends RealCommand {
  constructor(readonly how: 'drain' | 'crash' | 'close', readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.running.length >= 2;
  }
  async act(m: Model, fleet: RealFleet, before: Ring) {
    const id = [...m.running].sort()[this.pick % m.running.length];
    m.running = m.running.filter((r) => r !== id);
    const theirs = [...fleet.clients.keys()].filter((u) => before.owner(u) === id);
    // Drain: a reconnect frame each. Crash: each fails over to its next node, which then owns it (no second move).
    // Close: GOING_AWAY, each finds its new owner by itself.
    const how: Move = this.how === 'drain' ? 'reconnect' : this.how === 'crash' ? 'failover' : 'once';
    if (this.how === 'drain') await fleet.drain(id);
    else if (this.how === 'crash') await fleet.crash(id);
    else await fleet.close(id);
    return new Map(theirs.map((u) => [u, how]));
  }
  toString = () => `${this.how[0].toUpperCase()}${this.how.slice(1)}(#${this.pick})`;
}

/**
 * A node crashes and its process starts again under the same id and port once its users have failed over:
 * well within the liveness timeout, so the ring never changes. Its users fail over, then come back to it.
 */
class Restart extends RealCommand {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.running.length >= 2;
  }
  async act(m: Model, fleet: RealFleet, before: Ring) {
    const id = [...m.running].sort()[this.pick % m.running.length];
    const theirs = [...fleet.clients.keys()].filter((u) => before.owner(u) === id);
    const crashedAt = fleet.clock.now();
    const port = await fleet.crash(id);
    const away = () => theirs.every((u) => fleet.clients.get(u)!.client.state === 'open' && fleet.clients.get(u)!.client.node !== id);
    await driveUntil(fleet.clock, away, { maxMs: TIMING.livenessTimeoutMs / 2, what: `${id}'s users to fail over` });
    await fleet.join(id, port);
    expect(fleet.clock.now() - crashedAt, 'restarted within the liveness timeout').toBeLessThan(TIMING.livenessTimeoutMs);
    return new Map<string, Move>(theirs.map((u) => [u, ['failover', 'reconnect']]));
  }
  toString = () => `Restart(#${this.pick})`;
}

class LoseHeartbeat extends RealCommand {
  constructor(readonly pick: number) {
    super();
  }
  check() {
    return true;
  }
  async act(m: Model, fleet: RealFleet) {
    const id = [...m.running].sort()[this.pick % m.running.length];
    const epoch = fleet.agents.get(id)!.agent.topology.epoch;
    const lost = seen.heartbeatsLost;
    fleet.loseHeartbeat(id);
    await driveUntil(fleet.clock, () => seen.heartbeatsLost > lost, { maxMs: 2 * TIMING.heartbeatMs, what: `${id}'s heartbeat to be lost` });
    // Past the liveness timeout and a settle window: a lost heartbeat taken for a departure would show by now.
    const rebalances: string[] = [];
    const record = (agent: Agent) => (e: { epoch: number }) => rebalances.push(`${agent.id}: ${e.epoch}`);
    const listeners = [...fleet.agents.values()].map(({ agent }) => [agent, record(agent)] as const);
    for (const [agent, l] of listeners) agent.on('rebalance', l);
    await pass(fleet.clock, TIMING.livenessTimeoutMs + 2 * TIMING.settleMs);
    for (const [agent, l] of listeners) agent.off('rebalance', l);
    expect(rebalances, 'rebalances after a lost heartbeat').toEqual([]);
    for (const { agent } of fleet.agents.values()) expect(agent.topology.epoch, `epoch on ${agent.id}`).toBe(epoch);
    return new Map<string, Move>();
  }
  toString = () => `LoseHeartbeat(#${this.pick})`;
}

class Connect extends RealCommand {
  constructor(readonly count: number) {
    super();
  }
  check() {
    return true;
  }
  async act(_m: Model, fleet: RealFleet) {
    fleet.connect(this.count);
    return new Map<string, Move>();
  }
  toString = () => `Connect(${this.count})`;
}

const pick = fc.nat({ max: 100 });
const join = pick.map((p) => new Join(p));
const depart = fc.tuple(fc.constantFrom('drain' as const, 'crash' as const, 'close' as const), pick).map(([how, p]) => new Depart(how, p));
// Joins and departures are what move users: drawn twice as often as restarts, lost heartbeats and new clients.
const commands = fc.commands(
  [join, join, depart, depart, pick.map((p) => new Restart(p)), pick.map((p) => new LoseHeartbeat(p)), fc.integer({ min: 1, max: 10 }).map((n) => new Connect(n))],
  { maxCommands: 8, size: 'max' },
);

describe('membership and rebalancing with real agents and clients (model-based)', () => {
  const fleets: RealFleet[] = [];
  afterAll(async () => {
    for (const f of fleets) await f.stop();
  });

  it("every change moves exactly the users it concerns, once (a restarted node's users: out and back); everyone else keeps their socket", async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const fleet = new RealFleet();
        fleets.push(fleet);
        try {
          for (const id of POOL.slice(0, 3)) await fleet.join(id);
          fleet.connect(START_USERS);
          await waitSettled(fleet, 'start');
          await fc.asyncModelRun(() => ({ model: { running: POOL.slice(0, 3) }, real: fleet }), cmds);
        } finally {
          await fleet.stop();
        }
      }),
      { seed: 20_251_125, numRuns: 4, endOnFailure: true },
    );
    console.log(`real fleet: ${seen.commands.length} changes (${seen.commands.join(', ')}); moves ${JSON.stringify(seen.moves)}; heartbeats lost ${seen.heartbeatsLost}`);
    expect(seen.moves.reconnect).toBeGreaterThan(0);
    expect(seen.moves.failover).toBeGreaterThan(0);
    expect(seen.commands.filter((c) => c.startsWith('Restart')).length, 'restarts run').toBeGreaterThan(0);
  });
});
