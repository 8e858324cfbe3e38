// Model-based test of the client state machine: random sequences of what nodes, the network, the clock and the
// application can do, against fake sockets; after every step the client must agree with a small model.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, createClient, DEFAULT_MAX_EPOCH_LEAD, TERMINAL_CLOSE_CODES, type ClientState, type Topology, type WsringClient } from '../src/mod.js';
import { transitions } from '../src/machine.js';
import { FLEET, ManualClock, FakeFetch, FakeSocket, fleetKey, makeTopology, nodeUrl, settle, type Fixture } from './fakes.js';

const USER = 'user-42';
const BASE_MS = 100;
const CAP_MS = 1_000;

interface Real {
  client: WsringClient;
  clock: ManualClock;
  fetch: FakeFetch;
  sockets: FakeSocket[];
  /** Every `reconnecting` event, and whether a welcome came since the previous one. */
  reconnecting: { attempt: number; delayMs: number; afterOpens: boolean }[];
  opens: number;
  closes: number;
  messages: unknown[];
  /** Whether the client was given the fleet key (so it may adopt signed topologies from frames). */
  keyed: boolean;
  /** Tokens its token function handed out, one per connect. */
  tokens: number;
  /** `open` and `moved` events in order, to check that every change of node is reported once and truly. */
  trail: ({ event: 'open'; node: string } | { event: 'moved'; from: string; to: string })[];
}

interface Model {
  /** The application closed the client or a node closed it with a terminal code. */
  closed: boolean;
  /** Sockets created when the client became closed. */
  socketsAtClose: number;
  /** Node URLs of every topology the client may trust (fetched, or signed inside a frame when it has the key). */
  knownUrls: Set<string>;
  /** Epochs of those topologies: the client's epoch is always one of them. */
  trustedEpochs: Set<number>;
  /** Whether the current socket has been welcomed. */
  welcomed: boolean;
  /** Message positions delivered to the application. */
  delivered: number;
  lastPos: number;
}

let topologies: Fixture[];
/** An attacker's topology: its own node `evil` everywhere, the highest epoch, signed by a key the fleet never had. */
let attacker: Fixture;

beforeAll(async () => {
  topologies = [await makeTopology(['n1', 'n2', 'n3'], 1), await makeTopology(['n1', 'n2', 'n3', 'n4'], 2), await makeTopology(['n2', 'n3'], 3)];
  const evil = await makeTopology(['evil'], Number.MAX_SAFE_INTEGER);
  attacker = { ...evil, topology: fleetKey().sign(evil.topology) };
});

const current = (r: Real) => r.sockets.at(-1);
const liveSocket = (r: Real) => {
  const s = current(r);
  return s?.live ? s : undefined;
};
const nodeOf = (socket: FakeSocket) => new URL(socket.url).host.split('.')[0];

/** A command acts, then checks every invariant. */
abstract class Cmd implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    await this.act(m, r);
    invariants(m, r);
  }
  abstract act(m: Model, r: Real): Promise<void>;
  abstract toString(): string;
}

class AnswerFetch extends Cmd {
  constructor(readonly which: number) {
    super();
  }
  async act(m: Model, r: Real) {
    if (r.fetch.requests.length === 0) return;
    const t = topologies[this.which];
    for (const n of t.topology.nodes) m.knownUrls.add(n.url);
    m.trustedEpochs.add(t.topology.epoch);
    const before = r.sockets.length;
    r.fetch.answer(t.topology);
    await settle();
    // An open client that waited for this topology to confirm a move frame's unknown node follows it now.
    if (r.sockets.length > before) m.welcomed = false;
  }
  toString = (): string => `AnswerFetch(epoch ${topologies[this.which]?.topology.epoch ?? this.which + 1})`;
}

class FailFetch extends Cmd {
  async act(_m: Model, r: Real) {
    if (r.fetch.requests.length === 0) return;
    r.fetch.fail();
    await settle();
  }
  toString = (): string => 'FailFetch';
}

class Welcome extends Cmd {
  constructor(readonly epoch: number, readonly standIn: boolean, readonly user: string | undefined = USER) {
    super();
  }
  async act(m: Model, r: Real) {
    const s = liveSocket(r);
    if (!s || m.welcomed) return;
    s.serverOpen();
    s.serverSend({ type: 'welcome', node: nodeOf(s), epoch: this.epoch, fingerprint: 'f', standIn: this.standIn, ...(this.user === undefined ? {} : { user: this.user }) });
    if (this.user !== undefined && this.user !== USER) {
      // Welcomed as someone else: the client leaves and stops for good.
      expect(r.client.state).toBe('closed');
      if (!m.closed) {
        m.closed = true;
        m.socketsAtClose = r.sockets.length;
      }
      return;
    }
    m.welcomed = true;
    expect(r.client.state).toBe('open');
    expect(r.client.node).toBe(nodeOf(s));
    await settle();
  }
  toString = (): string => `Welcome(epoch ${this.epoch}${this.standIn ? ', stand-in' : ''}${this.user === USER ? '' : `, user ${this.user}`})`;
}

/**
 * What a move frame carries besides its target: nothing, the sender's (signed) topology, a signed topology that
 * does not match the frame, the sender's topology unsigned, or an attacker's topology (signed by another key)
 * naming the attacker's node at the highest epoch there is.
 */
type Inline = { kind: 'none' } | { kind: 'valid' | 'forged' | 'unsigned'; which: number } | { kind: 'attacker' };

class MoveFrame extends Cmd {
  constructor(readonly kind: 'reconnect' | 'redirect', readonly node: string, readonly inline: Inline = { kind: 'none' }, readonly epoch = 2) {
    super();
  }
  async act(m: Model, r: Real) {
    const s = liveSocket(r);
    if (!s) return;
    const before = r.sockets.length;
    const url = nodeUrl(this.node);
    const inline = this.inline.kind === 'none' ? undefined : this.inline.kind === 'attacker' ? attacker : topologies[this.inline.which];
    // A valid one is a topology the client may go by when it has the fleet key (so its URLs count as listed);
    // every other kind must not let the client reach a node it does not otherwise know, nor move its epoch.
    if (inline && this.inline.kind === 'valid' && r.keyed) {
      for (const n of inline.topology.nodes) m.knownUrls.add(n.url);
      m.trustedEpochs.add(inline.topology.epoch);
    }
    const body = inline && this.inline.kind === 'unsigned' ? { ...inline.topology, signature: undefined } : inline?.topology;
    const label = inline
      ? { epoch: inline.topology.epoch, fingerprint: this.inline.kind === 'forged' ? 'f' : inline.topology.fingerprint, topology: body as Topology }
      : { epoch: this.epoch, fingerprint: 'f' };
    const base = { node: this.node, url, ...label };
    s.serverSend(this.kind === 'reconnect' ? { type: 'reconnect', ...base, graceMs: 1000 } : { type: 'redirect', ...base, reason: 'not-owner' });
    // An inline topology is verified and loaded asynchronously before the frame takes effect, and the token
    // function answers asynchronously before a socket opens.
    await settle();
    if (r.sockets.length > before) {
      // It followed the frame: only ever to a URL some topology listed, and the old socket is gone.
      expect(m.knownUrls.has(nodeUrl(nodeOf(current(r) as FakeSocket)))).toBe(true);
      expect(s.live).toBe(false);
      m.welcomed = false;
    } else if (!s.live) {
      m.welcomed = false;
    }
    await settle();
  }
  toString = (): string =>
    `${this.kind}(${this.node}, ${this.inline.kind === 'none' ? `epoch ${this.epoch}` : this.inline.kind === 'attacker' ? 'attacker topology' : `${this.inline.kind} topology epoch ${this.inline.which + 1}`})`;
}

class ServerClose extends Cmd {
  constructor(readonly code: number) {
    super();
  }
  async act(m: Model, r: Real) {
    const s = liveSocket(r);
    if (!s) return;
    s.serverClose(this.code);
    m.welcomed = false;
    if (TERMINAL_CLOSE_CODES.has(this.code) && !m.closed) {
      m.closed = true;
      m.socketsAtClose = r.sockets.length;
    }
    await settle();
  }
  toString = (): string => `ServerClose(${this.code})`;
}

class ServerMessage extends Cmd {
  constructor(readonly pos: number) {
    super();
  }
  async act(m: Model, r: Real) {
    const s = liveSocket(r);
    if (!s) return;
    const before = r.messages.length;
    s.serverSend({ type: 'message', data: this.pos, pos: this.pos });
    // Duplicates (a position already delivered) are dropped; anything newer reaches the application.
    expect(r.messages.length - before).toBe(this.pos > m.lastPos ? 1 : 0);
    m.lastPos = Math.max(m.lastPos, this.pos);
  }
  toString = (): string => `ServerMessage(${this.pos})`;
}

class Garbage extends Cmd {
  constructor(readonly text: string) {
    super();
  }
  async act(_m: Model, r: Real) {
    const s = liveSocket(r);
    if (!s) return;
    const state = r.client.state;
    s.serverSend(this.text);
    expect(r.client.state).toBe(state);
  }
  toString = (): string => `Garbage(${JSON.stringify(this.text)})`;
}

class FireTimer extends Cmd {
  async act(m: Model, r: Real) {
    const s = liveSocket(r);
    if (!r.clock.fireNext()) return;
    if (s && !s.live) m.welcomed = false;
    await settle();
  }
  toString = (): string => 'FireTimer';
}

class AppSend extends Cmd {
  async act(_m: Model, r: Real) {
    if (r.client.state === 'open') {
      const s = liveSocket(r) as FakeSocket;
      const before = s.sent.length;
      r.client.send({ n: 1 });
      expect(s.sent.length).toBe(before + 1);
    } else {
      expect(() => r.client.send({ n: 1 })).toThrow(expect.objectContaining({ code: 'NOT_OPEN' }));
    }
  }
  toString = (): string => 'AppSend';
}

class AppClose extends Cmd {
  async act(m: Model, r: Real) {
    r.client.close();
    if (!m.closed) {
      m.closed = true;
      m.socketsAtClose = r.sockets.length;
    }
    m.welcomed = false;
    await settle();
  }
  toString = (): string => 'AppClose';
}

/** What must hold after every command. */
function invariants(m: Model, r: Real): void {
  const state: ClientState = r.client.state;
  const live = r.sockets.filter((s) => s.live);
  expect(live.length).toBeLessThanOrEqual(1);
  if (live.length === 1) expect(live[0]).toBe(current(r));
  const maxTrusted = Math.max(0, ...m.trustedEpochs);
  for (const s of r.sockets) {
    expect(m.knownUrls.has(s.base)).toBe(true);
    expect(s.params.get('user')).toBe(USER);
    // The epoch it claims is bounded by what it trusts: a forged frame epoch never goes along.
    expect(Number(s.params.get('epoch'))).toBeLessThanOrEqual(maxTrusted + DEFAULT_MAX_EPOCH_LEAD);
  }
  // A fresh token for every connect, and only to sockets it opened.
  expect(new Set(r.sockets.map((s) => s.params.get('token'))).size).toBe(r.sockets.length);
  expect(r.tokens).toBeGreaterThanOrEqual(r.sockets.length);
  if (r.client.epoch !== undefined) expect(m.trustedEpochs.has(r.client.epoch)).toBe(true);
  if (m.closed) {
    expect(state).toBe('closed');
    expect(live).toHaveLength(0);
    expect(r.clock.pendingTimers).toBe(0);
    expect(r.sockets.length).toBe(m.socketsAtClose);
    expect(r.closes).toBe(1);
    return;
  }
  expect(state).not.toBe('closed');
  expect(r.closes).toBe(0);
  expect(state === 'open').toBe(m.welcomed);
  if (state === 'open') expect(live).toHaveLength(1);
  if (state === 'connecting' || state === 'moving') {
    expect(live).toHaveLength(1);
    expect(r.clock.pendingTimers).toBeGreaterThanOrEqual(1); // the connect timeout
  }
  if (state === 'bootstrapping') expect(r.fetch.requests.length).toBe(1);
  if (state === 'reconnecting') {
    expect(live).toHaveLength(0);
    expect(r.clock.pendingTimers).toBeGreaterThanOrEqual(1);
  }
  // A client that is not closed always has something that will move it on: never stuck.
  expect(live.length + r.fetch.requests.length + r.clock.pendingTimers).toBeGreaterThan(0);
  // Full jitter under an exponential ceiling, counted from 1 after every welcome.
  let expected = 1;
  for (const { attempt, delayMs, afterOpens } of r.reconnecting) {
    if (afterOpens) expected = 1;
    expect(attempt).toBe(expected++);
    expect(delayMs).toBeGreaterThanOrEqual(0);
    expect(delayMs).toBeLessThan(Math.min(CAP_MS, BASE_MS * 2 ** (attempt - 1)));
  }
  // Every welcome by another node than the last one is reported by one `moved` from that node, just before it;
  // no `moved` otherwise (the same node welcoming again after a drop or a detour that never opened is no move).
  let last: string | undefined;
  r.trail.forEach((e, i) => {
    if (e.event === 'moved') {
      const next = r.trail[i + 1];
      expect({ at: i, moved: e, next }).toEqual({ at: i, moved: e, next: { event: 'open', node: e.to } });
      // Before the first welcome, `from` is the first node tried (the client was sent on or failed over from it).
      if (last !== undefined) expect({ at: i, from: e.from }).toEqual({ at: i, from: last });
      else expect(e.from).not.toBe(e.to);
      return;
    }
    if (last !== undefined && e.node !== last) expect({ at: i, before: r.trail[i - 1] }).toEqual({ at: i, before: { event: 'moved', from: last, to: e.node } });
    last = e.node;
  });
  // Stand-in requests name only nodes before the target in the preference list.
  const s = current(r);
  const unreachable = s?.params.get('unreachable');
  if (s && unreachable) for (const id of unreachable.split(',')) expect(id).not.toBe(nodeOf(s));
}

const nodes = fc.constantFrom('n1', 'n2', 'n3', 'n4', 'evil');
// Frames with a topology inside lean towards n4, the node only the epoch-2 topology lists: the case they exist for.
const inlineMoveFrame = fc
  .tuple(
    fc.constantFrom('reconnect' as const, 'redirect' as const),
    fc.oneof(nodes, fc.constant('n4')),
    fc.constantFrom('valid' as const, 'forged' as const, 'unsigned' as const, 'attacker' as const),
    fc.constantFrom(0, 1, 1, 2),
  )
  .map(([k, n, kind, which]) => new MoveFrame(k, kind === 'attacker' ? 'evil' : n, kind === 'attacker' ? { kind } : { kind, which }));
const commands = [
  fc.integer({ min: 0, max: 2 }).map((i) => new AnswerFetch(i)),
  fc.constant(new FailFetch()),
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.constantFrom(USER, USER, USER, undefined, 'someone-else')).map(([e, s, u]) => new Welcome(e, s, u)),
  fc
    .tuple(fc.constantFrom('reconnect' as const, 'redirect' as const), nodes, fc.constantFrom(1, 2, 3, 17, Number.MAX_SAFE_INTEGER))
    .map(([k, n, e]) => new MoveFrame(k, n, { kind: 'none' }, e)),
  inlineMoveFrame,
  inlineMoveFrame,
  fc.constantFrom(1000, 1001, 1006, 1011, 4000, 4001, 4002, 4003, 4004, 4006, 4400, 4401, 4429, CloseCode.TOKEN_EXPIRED).map((c) => new ServerClose(c)),
  fc.integer({ min: 1, max: 6 }).map((p) => new ServerMessage(p)),
  fc.constantFrom('{', '[]', '{"type":7}', '{"type":"nope"}', '{"type":"welcome"}').map((t) => new Garbage(t)),
  fc.constant(new FireTimer()),
  fc.constant(new FireTimer()),
  fc.constant(new AppSend()),
  fc.constant(new AppClose()),
];

/** A client on fake sockets, timers and fetch, with its events recorded. */
function startReal(seed: number, visited: Set<ClientState>, reasons: Set<string>, keyed = true): Real {
  const clock = new ManualClock();
  const fetch = new FakeFetch();
  const sockets: FakeSocket[] = [];
  let rng = seed;
  const random = () => {
    rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
    return rng / 2 ** 32;
  };
  const client = createClient({
    user: USER,
    bootstrap: ['http://a.test', 'http://b.test'],
    WebSocket: class extends FakeSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    },
    fetch: fetch.fetch,
    clock,
    random,
    // The model drops an unconfirmed move at the first refetch; the further refetches are tested in moves.test.ts.
    moveConfirmRetries: 0,
    backoff: { baseMs: BASE_MS, capMs: CAP_MS },
    failoverDepth: 3,
    // A token function: TOKEN_EXPIRED is then no end, the client comes back with a fresh token.
    token: () => `token-${++real.tokens}`,
    ...(keyed ? { topologyKey: FLEET.publicKey } : {}),
  });
  const real: Real = { client, clock, fetch, sockets, keyed, tokens: 0, reconnecting: [], opens: 0, closes: 0, messages: [], trail: [] };
  let opened = false;
  client.on('reconnecting', (e) => {
    real.reconnecting.push({ ...e, afterOpens: opened });
    opened = false;
  });
  client.on('open', (e) => {
    real.trail.push({ event: 'open', node: e.node });
    real.opens++;
    opened = true;
  });
  client.on('close', () => real.closes++);
  client.on('message', (d) => real.messages.push(d));
  client.on('state', (state) => visited.add(state));
  client.on('moved', (e) => {
    real.trail.push({ event: 'moved', from: e.from, to: e.to });
    reasons.add(e.reason);
  });
  return real;
}

const freshModel = (): Model => ({ closed: false, socketsAtClose: 0, knownUrls: new Set(), trustedEpochs: new Set(), welcomed: false, delivered: 0, lastPos: 0 });

describe('client state machine (model-based)', () => {
  it('lists a row for every state', () => {
    expect(Object.keys(transitions).sort()).toEqual(['bootstrapping', 'closed', 'connecting', 'moving', 'open', 'reconnecting']);
  });

  it('agrees with the model under random node, network, clock and application events', async () => {
    const visited = new Set<ClientState>();
    const reasons = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60, size: 'medium' }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.boolean(), async (cmds, seed, keyed) => {
        const real = startReal(seed, visited, reasons, keyed);
        const { client } = real;
        const model = freshModel();
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        client.close();
      }),
      { seed: 20261125, numRuns: 1000 },
    );
    // The runs reached every state and every kind of move, so the invariants were checked where they matter.
    expect([...visited].sort()).toEqual(['bootstrapping', 'closed', 'connecting', 'moving', 'open', 'reconnecting']);
    expect([...reasons].sort()).toEqual(['failover', 'reconnect', 'redirect']);
  });

  it('reports a drop followed by a detour back to the same node as no move, and a detour elsewhere as one move from it', async () => {
    // Open on n1, dropped, retrying on the owner, sent back to n1 by it: no move. Found by the property above.
    const cases = [
      [new AnswerFetch(0), new MoveFrame('reconnect', 'n1'), new Welcome(1, false), new ServerClose(1000), new FireTimer(), new MoveFrame('reconnect', 'n1'), new Welcome(1, false)],
      [new AnswerFetch(0), new Welcome(1, false), new ServerClose(4001), new FireTimer(), new AnswerFetch(1), new MoveFrame('reconnect', 'n1'), new Welcome(1, false)],
    ];
    for (const cmds of cases) {
      const real = startReal(7, new Set(), new Set());
      await fc.asyncModelRun(() => ({ model: freshModel(), real }), cmds);
      expect(real.trail.filter((e) => e.event === 'open').length).toBe(2);
      real.client.close();
    }
  });
});
