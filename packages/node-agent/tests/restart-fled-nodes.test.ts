// FledNodes, the bookkeeping that sends stand-ins back to a node that restarted: a model-based test
// (fc.commands) against a plain reference, plus the cases that matter named one by one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FledNodes, type MemberRecord, type MemberState } from '../src/mod.js';

const record = (id: string, startedAt: number, state: MemberState): MemberRecord => ({ id, url: `ws://${id}`, weight: 1, state, startedAt, seq: 1 });

/** The reference: per user, the incarnation of each node it fled, as a plain map. */
interface Reference {
  /** Per node, the start time of its latest record if that record is active. */
  serving: Map<string, number | undefined>;
  waiting: Map<string, Map<string, number | undefined>>;
}

type Command = fc.Command<Reference, FledNodes>;

class Fled implements Command {
  constructor(readonly user: string, readonly nodes: string[]) {}
  check = () => true;
  run(ref: Reference, real: FledNodes): void {
    real.fled(this.user, this.nodes);
    ref.waiting.delete(this.user);
    if (this.nodes.length > 0) ref.waiting.set(this.user, new Map(this.nodes.map((n) => [n, ref.serving.get(n)])));
    expect(real.size).toBe(ref.waiting.size);
  }
  toString = () => `fled(${this.user}, [${this.nodes}])`;
}

class Forget implements Command {
  constructor(readonly user: string) {}
  check = () => true;
  run(ref: Reference, real: FledNodes): void {
    real.forget(this.user);
    ref.waiting.delete(this.user);
    expect(real.size).toBe(ref.waiting.size);
  }
  toString = () => `forget(${this.user})`;
}

class Observe implements Command {
  constructor(readonly node: string, readonly startedAt: number, readonly state: MemberState) {}
  check = () => true;
  run(ref: Reference, real: FledNodes): void {
    const back = real.observe(record(this.node, this.startedAt, this.state));
    const incarnation = this.state === 'active' ? this.startedAt : undefined;
    ref.serving.set(this.node, incarnation);
    const expected: string[] = [];
    if (incarnation !== undefined) {
      for (const [user, fled] of ref.waiting) {
        if (!fled.has(this.node) || fled.get(this.node) === incarnation) continue;
        expected.push(user);
        fled.delete(this.node);
        if (fled.size === 0) ref.waiting.delete(user);
      }
    }
    expect([...back].sort()).toEqual(expected.sort());
    expect(real.size).toBe(ref.waiting.size);
  }
  toString = () => `observe(${this.node}, started ${this.startedAt}, ${this.state})`;
}

const user = fc.constantFrom('u0', 'u1', 'u2', 'u3', 'u4', 'u5');
const node = fc.constantFrom('n0', 'n1', 'n2', 'n3');
const commands = fc.commands(
  [
    fc.tuple(user, fc.uniqueArray(node, { maxLength: 3 })).map(([u, ns]) => new Fled(u, ns)),
    user.map((u) => new Forget(u)),
    // Heartbeats of one incarnation are the common case: observations outnumber the rest.
    fc.tuple(node, fc.integer({ min: 1, max: 3 }), fc.constantFrom<MemberState>('joining', 'active', 'active', 'draining')).map(([n, s, st]) => new Observe(n, s, st)),
    fc.tuple(node, fc.integer({ min: 1, max: 3 }), fc.constantFrom<MemberState>('joining', 'active', 'active', 'draining')).map(([n, s, st]) => new Observe(n, s, st)),
  ],
  { maxCommands: 60 },
);

describe('FledNodes', () => {
  it('returns exactly the users that fled another incarnation of a node once an active record of it arrives, each once', () => {
    fc.assert(
      fc.property(commands, (cmds) => {
        fc.modelRun(() => ({ model: { serving: new Map(), waiting: new Map() }, real: new FledNodes() }), cmds);
      }),
      { seed: 20_251_125, numRuns: 300 },
    );
  });

  it('a restart: the users go back once the new process is active, not while it is still joining', () => {
    const fled = new FledNodes();
    fled.observe(record('a', 100, 'active'));
    fled.fled('u1', ['a']);
    fled.fled('u2', ['a', 'b']);
    expect(fled.observe(record('a', 100, 'active'))).toEqual([]); // a late heartbeat of the crashed process
    expect(fled.observe(record('a', 900, 'joining'))).toEqual([]);
    expect(fled.observe(record('a', 900, 'active')).sort()).toEqual(['u1', 'u2']);
    expect(fled.size).toBe(1); // u2 still waits for b
    expect(fled.observe(record('a', 900, 'active'))).toEqual([]);
  });

  it('a full node: its spill-over stand-ins stay through its heartbeats', () => {
    const fled = new FledNodes();
    fled.observe(record('a', 100, 'active'));
    fled.fled('u1', ['a']);
    for (let i = 0; i < 5; i++) expect(fled.observe(record('a', 100, 'active'))).toEqual([]);
    expect(fled.size).toBe(1);
  });

  it('a user that fled a node not yet serving goes back once it serves', () => {
    const fled = new FledNodes();
    fled.observe(record('a', 900, 'joining'));
    fled.fled('u1', ['a']);
    expect(fled.observe(record('a', 900, 'active'))).toEqual(['u1']);
  });

  it('a user gone, promoted or replaced is forgotten', () => {
    const fled = new FledNodes();
    fled.observe(record('a', 100, 'active'));
    fled.fled('u1', ['a']);
    fled.fled('u2', ['a']);
    fled.forget('u1');
    fled.fled('u2', []);
    expect(fled.size).toBe(0);
    expect(fled.observe(record('a', 900, 'active'))).toEqual([]);
  });
});
