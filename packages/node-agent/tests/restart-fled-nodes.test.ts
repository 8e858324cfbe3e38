// FledNodes, the bookkeeping that sends stand-ins back to a node that restarted: a model-based test
// (fc.commands) against a plain reference, plus the cases that matter named one by one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MemberRecord, type MemberState } from '../src/mod.js';
import { FledNodes } from '../src/internal.js';

const record = (id: string, startedAt: number, state: MemberState, seq = 1): MemberRecord => ({ id, url: `ws://${id}`, weight: 1, state, startedAt, seq });
const RECENT_MS = 100;

/** The real side, on a clock the commands move. */
interface Real {
  fled: FledNodes;
  clock: { now: number };
}

/** The reference: per user, what it fled of each node, as plain maps. */
interface Reference {
  now: number;
  /** Per node: the start time of its latest record if that record is active, since when, and its latest heartbeat. */
  serving: Map<string, { startedAt: number; since: number; seq: number } | undefined>;
  waiting: Map<string, Map<string, { startedAt: number | undefined; until: number | undefined; seq: number }>>;
}

type Command = fc.Command<Reference, Real>;

const newReal = (): Real => {
  const clock = { now: 0 };
  return { clock, fled: new FledNodes(() => clock.now, RECENT_MS) };
};

class Hold implements Command {
  constructor(readonly user: string, readonly nodes: string[]) {}
  check = () => true;
  run(ref: Reference, { fled: real }: Real): void {
    real.hold(this.user, this.nodes);
    ref.waiting.delete(this.user);
    const what = (node: string) => {
      const s = ref.serving.get(node);
      return { startedAt: s?.startedAt, until: s !== undefined && ref.now - s.since < RECENT_MS ? ref.now + RECENT_MS : undefined, seq: s?.seq ?? 0 };
    };
    if (this.nodes.length > 0) ref.waiting.set(this.user, new Map(this.nodes.map((n) => [n, what(n)])));
    expect(real.size).toBe(ref.waiting.size);
  }
  toString = () => `hold(${this.user}, [${this.nodes}])`;
}

class Forget implements Command {
  constructor(readonly user: string) {}
  check = () => true;
  run(ref: Reference, { fled: real }: Real): void {
    real.forget(this.user);
    ref.waiting.delete(this.user);
    expect(real.size).toBe(ref.waiting.size);
  }
  toString = () => `forget(${this.user})`;
}

/** A record of `node`; `beat` says how its `seq` compares with the latest one of that incarnation seen (a resync replays it, a heartbeat is newer). */
class Observe implements Command {
  constructor(readonly node: string, readonly startedAt: number, readonly state: MemberState, readonly beat: 'replay' | 'next') {}
  check = () => true;
  run(ref: Reference, { fled: real }: Real): void {
    const known = ref.serving.get(this.node);
    const latest = known?.startedAt === this.startedAt ? known.seq : 0;
    const seq = this.beat === 'next' ? latest + 1 : latest;
    const back = real.observe(record(this.node, this.startedAt, this.state, seq));
    const expected: string[] = [];
    if (this.state !== 'active') ref.serving.set(this.node, undefined);
    else {
      if (known?.startedAt !== this.startedAt) ref.serving.set(this.node, { startedAt: this.startedAt, since: ref.now, seq });
      else known.seq = Math.max(known.seq, seq);
      for (const [user, fled] of ref.waiting) {
        const f = fled.get(this.node);
        if (!f) continue;
        // Another incarnation, or a heartbeat of the same one newer than any before `until`.
        if (f.startedAt === this.startedAt && (f.until === undefined || ref.now < f.until || seq <= f.seq)) {
          if (f.until !== undefined && ref.now < f.until) f.seq = Math.max(f.seq, seq);
          continue;
        }
        expected.push(user);
        fled.delete(this.node);
        if (fled.size === 0) ref.waiting.delete(user);
      }
    }
    expect([...back].sort()).toEqual(expected.sort());
    expect(real.size).toBe(ref.waiting.size);
  }
  toString = () => `observe(${this.node}, started ${this.startedAt}, ${this.state}, ${this.beat})`;
}

class Tick implements Command {
  constructor(readonly ms: number) {}
  check = () => true;
  run(ref: Reference, real: Real): void {
    ref.now += this.ms;
    real.clock.now += this.ms;
  }
  toString = () => `tick(${this.ms})`;
}

const user = fc.constantFrom('u0', 'u1', 'u2', 'u3', 'u4', 'u5');
const node = fc.constantFrom('n0', 'n1', 'n2', 'n3');
const observe = fc
  .tuple(node, fc.integer({ min: 1, max: 3 }), fc.constantFrom<MemberState>('joining', 'active', 'active', 'draining'), fc.constantFrom('replay' as const, 'next' as const, 'next' as const))
  .map(([n, s, st, beat]) => new Observe(n, s, st, beat));
const commands = fc.commands(
  [
    fc.tuple(user, fc.uniqueArray(node, { maxLength: 3 })).map(([u, ns]) => new Hold(u, ns)),
    user.map((u) => new Forget(u)),
    // Heartbeats of one incarnation are the common case: observations outnumber the rest.
    observe,
    observe,
    // Steps below, at and above RECENT_MS.
    fc.constantFrom(20, 60, 100, 250).map((ms) => new Tick(ms)),
  ],
  { maxCommands: 60 },
);

describe('FledNodes', () => {
  it('returns exactly the users that fled another incarnation of a node once an active record of it arrives, each once', () => {
    fc.assert(
      fc.property(commands, (cmds) => {
        fc.modelRun(() => ({ model: { now: 0, serving: new Map(), waiting: new Map() }, real: newReal() }), cmds);
      }),
      { seed: 20_251_125, numRuns: 300 },
    );
  });

  it('a restart: the users go back once the new process is active, not while it is still joining', () => {
    const { fled, clock } = newReal();
    fled.observe(record('a', 100, 'active'));
    clock.now += RECENT_MS;
    fled.hold('u1', ['a']);
    fled.hold('u2', ['a', 'b']);
    expect(fled.observe(record('a', 100, 'active'))).toEqual([]); // a late heartbeat of the crashed process
    expect(fled.observe(record('a', 900, 'joining'))).toEqual([]);
    expect(fled.observe(record('a', 900, 'active')).sort()).toEqual(['u1', 'u2']);
    expect(fled.size).toBe(1); // u2 still waits for b
    expect(fled.observe(record('a', 900, 'active'))).toEqual([]);
  });

  it('a full node: its spill-over stand-ins stay through its heartbeats', () => {
    const { fled, clock } = newReal();
    fled.observe(record('a', 100, 'active'));
    clock.now += RECENT_MS;
    fled.hold('u1', ['a']);
    for (let i = 0; i < 5; i++) {
      clock.now += RECENT_MS;
      expect(fled.observe(record('a', 100, 'active'))).toEqual([]);
    }
    expect(fled.size).toBe(1);
  });

  it('a process that had only just begun serving: its users go back on a newer heartbeat a while later, not on one in flight nor on a replay', () => {
    const { fled, clock } = newReal();
    fled.observe(record('a', 900, 'active', 1));
    clock.now += RECENT_MS / 2;
    fled.hold('u1', ['a']);
    clock.now += RECENT_MS / 4;
    expect(fled.observe(record('a', 900, 'active', 2))).toEqual([]);
    clock.now += RECENT_MS;
    expect(fled.observe(record('a', 900, 'active', 2))).toEqual([]);
    expect(fled.observe(record('a', 900, 'active', 3))).toEqual(['u1']);
    expect(fled.size).toBe(0);
  });

  it('a user that fled a node not yet serving goes back once it serves', () => {
    const { fled } = newReal();
    fled.observe(record('a', 900, 'joining'));
    fled.hold('u1', ['a']);
    expect(fled.observe(record('a', 900, 'active'))).toEqual(['u1']);
  });

  it('a user gone, promoted or replaced is forgotten', () => {
    const { fled, clock } = newReal();
    fled.observe(record('a', 100, 'active'));
    fled.hold('u3', ['a']);
    clock.now += RECENT_MS;
    fled.hold('u1', ['a']);
    fled.hold('u2', ['a']);
    fled.forget('u1');
    fled.hold('u2', []);
    fled.forget('u3');
    expect(fled.size).toBe(0);
    expect(fled.observe(record('a', 900, 'active'))).toEqual([]);
  });
});
