// Model-based test of the delivery state machine, node and client together, against a real nats-server: random
// publishes from two publishers, live messages lost on the way, client resumes from an older position, and
// reconnects carrying the client's position. After every step what each client application received is an
// in-order, duplicate-free prefix of what was published to its user; once things settle it is all of it.
import fc from 'fast-check';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { initialPosition, judgeGap, judgeMessage, judgeSynced, type Position } from '@wsring/client/internal';
import type { ServerFrame } from '@wsring/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher, type Publisher } from '../src/mod.js';
import { LiveFeed, type DeliveryTarget } from '../src/delivery/feed.js';
import { resolveDeliveryOptions } from '../src/delivery/options.js';
import { startNatsServer, type NatsServer } from '../src/testing/mod.js';
import { lossyLive, until } from './helpers.js';

const USERS = ['u0', 'u1', 'u2'];
const silent = { info() {}, warn() {}, error() {}, debug() {} };

/** A client as the SDK behaves: judges every frame by its position, answers a gap with resume. */
class ModelClient {
  position: Position = initialPosition();
  received: number[] = [];
  target!: DeliveryTarget;
  constructor(readonly user: string, private readonly world: World) {
    this.connect();
  }

  connect(): void {
    const target: DeliveryTarget = {
      userId: this.user,
      sendFrame: (f: ServerFrame) => {
        if (this.target !== target) return false;
        this.onFrame(f);
        return true;
      },
    };
    this.target = target;
    this.position = { ...this.position, resuming: false };
    this.world.feed.attach(target, this.position.last);
  }

  private onFrame(f: ServerFrame): void {
    if (f.type === 'synced') this.position = judgeSynced(this.position, f);
    else if (f.type === 'gap') throw new Error(`unexpected gap ${JSON.stringify(f)}: nothing expires in this test`);
    else if (f.type === 'message') {
      const { position, verdict } = judgeMessage(this.position, f);
      this.position = position;
      if (verdict === 'deliver') this.received.push((f.data as { n: number }).n);
      if (verdict === 'resume') queueMicrotask(() => this.world.feed.resume(this.target, position.last!));
    }
  }
}

class World {
  feed!: LiveFeed;
  clients = new Map<string, ModelClient>();
  /** Users whose next live message is lost between NATS and the node. */
  dropNext = new Set<string>();
  constructor(readonly nc: NatsConnection, readonly jsm: JetStreamManager, readonly publishers: Publisher[], prefix: string) {
    const lossy = lossyLive(nc, (subject) => {
      const user = USERS.find((u) => subject.endsWith(Buffer.from(`${prefix}${u}`).toString('base64url')));
      return user !== undefined && this.dropNext.delete(user);
    });
    // Two replay slots for three users: connections also wait their turn.
    this.feed = new LiveFeed(nc, jsm, resolveDeliveryOptions({ maxConcurrentReplays: 2 }), silent, { live: lossy });
  }
}

interface Model {
  published: Map<string, number[]>;
}

type Real = { world: World; prefix: string };

const check = (m: Model, r: Real) => {
  for (const u of USERS) {
    const got = r.world.clients.get(u)!.received;
    const sent = m.published.get(u)!;
    // Always a prefix: never out of order, never twice, never something not sent.
    expect(sent.slice(0, got.length)).toEqual(got);
  }
};

class Publish implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: number, readonly publisher: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const u = USERS[this.user];
    const n = m.published.get(u)!.length;
    await r.world.publishers[this.publisher].publish(`${r.prefix}${u}`, { n });
    m.published.get(u)!.push(n);
    check(m, r);
  }
  toString = () => `publish(${USERS[this.user]} via p${this.publisher})`;
}

class LoseNextLive implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    r.world.dropNext.add(USERS[this.user]);
    check(m, r);
  }
  toString = () => `loseNextLive(${USERS[this.user]})`;
}

class ResumeFromOlder implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: number, readonly back: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const c = r.world.clients.get(USERS[this.user])!;
    const last = c.position.last;
    // A resume from an older position makes the node send again what the client has: the client drops it.
    if (last !== undefined) r.world.feed.resume(c.target, Math.max(0, last - this.back));
    check(m, r);
  }
  toString = () => `resumeFromOlder(${USERS[this.user]}, -${this.back})`;
}

class Reconnect implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const c = r.world.clients.get(USERS[this.user])!;
    r.world.feed.detach(c.target);
    c.connect();
    check(m, r);
  }
  toString = () => `reconnect(${USERS[this.user]})`;
}

class Settle implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    await new Promise((res) => setTimeout(res, 5));
    check(m, r);
  }
  toString = () => 'settle';
}

const user = fc.nat(USERS.length - 1);
const commands = fc.commands(
  [
    fc.tuple(user, fc.nat(1)).map(([u, p]) => new Publish(u, p)),
    user.map((u) => new LoseNextLive(u)),
    fc.tuple(user, fc.integer({ min: 1, max: 50 })).map(([u, b]) => new ResumeFromOlder(u, b)),
    user.map((u) => new Reconnect(u)),
    fc.constant(new Settle()),
  ],
  { maxCommands: 40 },
);

describe('delivery state machine against a real nats-server', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publishers: Publisher[];
  let run = 0;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
    // Two publishers, so their per-user caches go stale against each other.
    publishers = [await createPublisher({ nats: nc }), await createPublisher({ nats: nc })];
  });
  afterAll(async () => {
    for (const p of publishers ?? []) await p.close();
    await nc?.close();
    await nats?.stop();
  });

  it('every client application gets its users messages once, in order, whatever is lost, resumed or reconnected', async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        // Fresh users per run: the stream keeps earlier runs' messages.
        const prefix = `r${run++}-`;
        const world = new World(nc, jsm, publishers, prefix);
        for (const u of USERS) world.clients.set(u, new ModelClient(`${prefix}${u}`, world));
        await until(() => USERS.every((u) => world.clients.get(u)!.position.last !== undefined), 10_000, 'every client synced');
        const model: Model = { published: new Map(USERS.map((u) => [u, []])) };
        try {
          await fc.asyncModelRun(() => ({ model, real: { world, prefix } }), cmds);
          // A lost live message with nothing after it is only found by a later message or a reconnect: send one more.
          world.dropNext.clear();
          for (const u of USERS) {
            const n = model.published.get(u)!.length;
            await publishers[0].publish(`${prefix}${u}`, { n });
            model.published.get(u)!.push(n);
          }
          await until(
            () => USERS.every((u) => world.clients.get(u)!.received.length === model.published.get(u)!.length),
            10_000,
            'every client to catch up',
          );
          check(model, { world, prefix });
        } finally {
          world.feed.close();
        }
      }),
      { numRuns: 25, seed: 20261125 },
    );
  });
});
