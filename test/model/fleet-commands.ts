// The commands and set-up the fleet-model tests share (rebalance, sessions and deploys model tests): joins,
// departures, restarts, passing time, users connecting and leaving, and settling, over the Fleet of fleet.ts, each
// checked against the fleet's invariants after it runs; a settled starting fleet; one run of a command sequence; a
// property that must fail for a given reason.
import fc from 'fast-check';
import { expect } from 'vitest';
import { Fleet, type FleetConfig } from './fleet.js';

/** What the commands need to know to decide whether they apply; the fleet itself is the real side. */
export interface FleetModel {
  /** Node ids a run may start, how many may run at once (serving or draining), how many users `Connect` may add. */
  readonly limits: { readonly pool: readonly string[]; readonly maxServing: number; readonly maxUsers: number };
  /** Running and not draining. */
  serving: Set<string>;
  /** Draining: free again once a settle has let them finish. */
  draining: Set<string>;
  nextUser: number;
  users: number;
}

/** A model with `serving` running, `users` users (user-0 ..) connected. */
export function fleetModel(limits: FleetModel['limits'], serving: readonly string[], users = 0): FleetModel {
  return { limits, serving: new Set(serving), draining: new Set(), nextUser: users, users };
}

export const sorted = (s: Set<string>): string[] => [...s].sort();
/** The serving node a command's `pick` names, stable for a given model state. */
export const pickServing = (m: Readonly<FleetModel>, pick: number): string => {
  const ids = sorted(m.serving);
  return ids[pick % ids.length];
};

const signed = (ms: number) => `${ms >= 0 ? '+' : ''}${ms} ms`;

/** A command on the fleet: after it acts, no invariant of the fleet may have been breached. */
export abstract class FleetCommand implements fc.AsyncCommand<FleetModel, Fleet> {
  abstract check(m: Readonly<FleetModel>): boolean;
  async run(m: FleetModel, fleet: Fleet): Promise<void> {
    await this.act(m, fleet);
    const v = fleet.violations;
    if (v.length > 0) throw new Error(`${this} breached an invariant at t=${fleet.clock.now()} ms:\n${v.slice(0, 8).join('\n')}${v.length > 8 ? `\n...and ${v.length - 8} more` : ''}`);
  }
  abstract act(m: FleetModel, fleet: Fleet): Promise<void>;
  abstract toString(): string;
}

/** A node joins: any id of the pool not running (new, departed, or crashed: then it restarts, before or after the fleet timed it out). */
export class Join extends FleetCommand {
  constructor(readonly pick: number, readonly latencyMs: number, readonly clockOffsetMs = 0) {
    super();
  }
  check(m: Readonly<FleetModel>) {
    return m.serving.size + m.draining.size < m.limits.maxServing;
  }
  async act(m: FleetModel, fleet: Fleet) {
    const free = m.limits.pool.filter((id) => !m.serving.has(id) && !m.draining.has(id));
    const id = free[this.pick % free.length];
    await fleet.join(id, this.latencyMs, this.clockOffsetMs);
    m.serving.add(id);
  }
  toString = () => `Join(#${this.pick}, latency ${this.latencyMs} ms${this.clockOffsetMs !== 0 ? `, clock ${signed(this.clockOffsetMs)}` : ''})`;
}

/** Drain, close or crash one serving node; at least one node always stays to place users on. */
export class Depart extends FleetCommand {
  constructor(readonly how: 'drain' | 'close' | 'crash', readonly pick: number) {
    super();
  }
  check(m: Readonly<FleetModel>) {
    return m.serving.size >= 2;
  }
  async act(m: FleetModel, fleet: Fleet) {
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

/**
 * A serving node crashes and its process starts again under the same id `afterMs` later: within the liveness
 * timeout the ring never changes, and its users, failed over meanwhile, come back to it (or move back once it rejoins).
 */
export class Restart extends FleetCommand {
  constructor(readonly pick: number, readonly afterMs: number, readonly latencyMs: number, readonly clockOffsetMs = 0) {
    super();
  }
  check(m: Readonly<FleetModel>) {
    return m.serving.size >= 2;
  }
  async act(m: FleetModel, fleet: Fleet) {
    const id = pickServing(m, this.pick);
    await fleet.crash(id);
    await fleet.advance(this.afterMs);
    await fleet.join(id, this.latencyMs, this.clockOffsetMs);
  }
  toString = () => `Restart(#${this.pick}, after ${this.afterMs} ms, latency ${this.latencyMs} ms${this.clockOffsetMs !== 0 ? `, clock ${signed(this.clockOffsetMs)}` : ''})`;
}

/** Time passes: possible whatever the fleet looks like. */
export class Advance extends FleetCommand {
  constructor(readonly ms: number) {
    super();
  }
  check() {
    return true;
  }
  async act(_m: FleetModel, fleet: Fleet) {
    await fleet.advance(this.ms);
  }
  toString = () => `Advance(${this.ms} ms)`;
}

/** New users connect (one session each), up to the model's limit. */
export class Connect extends FleetCommand {
  constructor(readonly count: number) {
    super();
  }
  check(m: Readonly<FleetModel>) {
    return m.users < m.limits.maxUsers;
  }
  async act(m: FleetModel, fleet: Fleet) {
    const n = Math.min(this.count, m.limits.maxUsers - m.users);
    const ids = Array.from({ length: n }, (_, i) => `user-${m.nextUser + i}`);
    m.nextUser += n;
    m.users += n;
    await fleet.connect(ids);
  }
  toString = () => `Connect(${this.count})`;
}

/** Users leave (`count` of them, from the `pick`-th on), every session of each. */
export class Disconnect extends FleetCommand {
  constructor(readonly count: number, readonly pick: number) {
    super();
  }
  check(m: Readonly<FleetModel>) {
    return m.users > 0;
  }
  async act(m: FleetModel, fleet: Fleet) {
    // A user's first session is named after it, its other tabs `user#n`.
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

/** The fleet goes quiet: it must settle, and then be settled (one ring, one epoch, everyone on its owner). */
export class Settle extends FleetCommand {
  check() {
    return true;
  }
  async act(m: FleetModel, fleet: Fleet) {
    const quiet = await fleet.settle();
    expect(quiet, describeFleet(fleet)).toBe(true);
    await fleet.checkSettled();
    m.draining.clear();
  }
  toString = () => 'Settle';
}

/** Where a fleet that did not settle stands: each node, the clients not connected, the first violations. */
export function describeFleet(fleet: Fleet): string {
  const nodes = [...fleet.nodes.values()].map((n) => `${n.id}:${n.status} ring=[${n.ring.nodes.map((r) => r.id)}] sessions=${n.registry.size} users=${n.registry.users} standIns=${n.registry.standIns.size} pacer=${n.rebalancer.pending}`);
  const pending = [...fleet.users.values()].filter((u) => u.pending).map((u) => `${u.id}:${u.pending?.kind}`);
  return `fleet did not settle at t=${fleet.clock.now()}: ${nodes.join('; ')}; not connected: ${pending.join(' ') || 'none'}; violations: ${fleet.violations.slice(0, 5).join(' | ')}`;
}

/** A fleet of `nodes` (id, delivery latency, clock offset) with what `populate` adds to it, settled and checked. */
export async function settledFleet(config: FleetConfig, nodes: readonly (readonly [string, number, number])[], populate: (fleet: Fleet) => Promise<void>): Promise<Fleet> {
  const fleet = new Fleet(config);
  for (const [id, latencyMs, clockOffsetMs] of nodes) await fleet.join(id, latencyMs, clockOffsetMs);
  await populate(fleet);
  if (!(await fleet.settle())) throw new Error(describeFleet(fleet));
  await fleet.checkSettled();
  if (fleet.violations.length > 0) throw new Error(fleet.violations.join('\n'));
  return fleet;
}

/**
 * One run: `cmds` and a final Settle on `setup`; then the fleet shuts down and what it went through (`stats` of it)
 * is added to `totals`.
 */
export async function runCommands<T extends Record<string, number>>(
  setup: { model: FleetModel; real: Fleet },
  cmds: Iterable<fc.AsyncCommand<FleetModel, Fleet>>,
  totals?: T,
  stats: (fleet: Fleet) => Record<string, number> = (fleet) => fleet.stats,
): Promise<void> {
  try {
    await fc.asyncModelRun(() => setup, [...cmds, new Settle()]);
  } finally {
    setup.real.shutdown();
    if (totals) {
      const seen = stats(setup.real);
      for (const k of Object.keys(totals) as (keyof T)[]) (totals[k] as number) += seen[k as string];
    }
  }
}

/** The property must fail, and for the reason given (a broken part the model has to catch). */
export async function expectFailure<Ts>(property: fc.IAsyncProperty<Ts>, params: fc.Parameters<Ts>, reason: RegExp): Promise<void> {
  let failure: unknown;
  try {
    await fc.assert(property, { ...params, endOnFailure: true });
  } catch (error) {
    failure = error;
  }
  expect(failure, 'the property passed').toBeInstanceOf(Error);
  expect(String((failure as Error).cause ?? failure)).toMatch(reason);
}
