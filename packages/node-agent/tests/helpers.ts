// Raw `ws` clients and small waits for the agent tests.
import WebSocket from 'ws';
import { connectUrl, type ConnectParams, type ServerFrame } from '@wsring/protocol';
import { NatsMembership, type Agent, type AgentEvents, type AgentOptions, type Membership, type MemberRecord } from '../src/mod.js';
import { Heartbeats } from '../../../test/support/heartbeats.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { liveSubscriber, type LiveSubscriber, type LiveSubscription } from '../src/delivery/live-subscriptions.js';

export interface RawClient {
  ws: WebSocket;
  frames: ServerFrame[];
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first frame (past or future) matching `pred`. */
  frame(pred: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  send(text: string | Buffer): void;
}

export function openClient(nodeUrl: string, params: ConnectParams, options: { headers?: Record<string, string> } = {}): RawClient {
  const ws = new WebSocket(connectUrl(nodeUrl, params), { headers: options.headers });
  const frames: ServerFrame[] = [];
  const waiters: { pred: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }[] = [];
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as ServerFrame;
    frames.push(f);
    for (const w of [...waiters]) {
      if (w.pred(f)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
    }
  });
  ws.on('error', () => {});
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', () => reject(new Error('closed before open')));
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return {
    ws,
    frames,
    opened,
    closed,
    frame(pred, timeoutMs = 10_000) {
      const past = frames.find(pred);
      if (past) return Promise.resolve(past);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames)}`)), timeoutMs);
        waiters.push({ pred, resolve: (f) => (clearTimeout(timer), resolve(f)) });
      });
    },
    send: (text) => ws.send(text),
  };
}

/**
 * A client that behaves as the protocol asks: follows redirect and reconnect frames to the named
 * node. Records every node it was welcomed on and every reconnect frame it got.
 */
export class FollowingClient {
  current: RawClient | undefined;
  welcomedOn: string[] = [];
  reconnects: { node: string; epoch: number }[] = [];
  redirects = 0;
  closedCodes: number[] = [];
  private stopped = false;

  constructor(readonly user: string, private readonly urlOf: (node: string) => string) {}

  async connect(url: string, params: Partial<ConnectParams> = {}): Promise<void> {
    for (let hop = 0; hop < 5 && !this.stopped; hop++) {
      const c = openClient(url, { user: this.user, ...params });
      this.current = c;
      const first = await Promise.race([c.frame(() => true), c.closed.then(() => undefined)]);
      if (first?.type === 'welcome') {
        this.welcomedOn.push(first.node);
        this.watch(c);
        return;
      }
      if (first?.type === 'redirect') {
        this.redirects++;
        url = first.url;
        params = { epoch: first.epoch };
        await c.closed;
        continue;
      }
      throw new Error(`user ${this.user}: unexpected first frame ${JSON.stringify(first)}`);
    }
    throw new Error(`user ${this.user}: too many hops`);
  }

  private watch(c: RawClient): void {
    c.ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as ServerFrame;
      if (f.type !== 'reconnect' || this.stopped) return;
      this.reconnects.push({ node: f.node, epoch: f.epoch });
      c.ws.close(1000);
      void this.connect(f.url, { epoch: f.epoch }).catch(() => {});
    });
    c.ws.on('close', (code) => this.closedCodes.push(code));
  }

  get node(): string | undefined {
    return this.welcomedOn.at(-1);
  }

  close(): void {
    this.stopped = true;
    this.current?.ws.terminate();
  }
}

export function once<E extends keyof AgentEvents>(agent: Agent, event: E, pred: (...args: AgentEvents[E]) => boolean = () => true, timeoutMs = 15_000): Promise<AgentEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      agent.off(event, listener);
      reject(new Error(`${agent.id}: no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: AgentEvents[E]) => {
      if (!pred(...args)) return;
      clearTimeout(timer);
      agent.off(event, listener);
      resolve(args);
    };
    agent.on(event, listener);
  });
}

/** Poll `cond` until it holds; `timeoutMs` only fails a hung test. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Keep a state for `ms` of real time: a store outage, a record ageing in the store. An action that lasts that
 * long, never a pause before an assertion (those wait for the event or counter they are about).
 */
export function hold(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Count the heartbeats written to `bucket` (see test/support/heartbeats.ts). */
export async function watchHeartbeats(servers: string, bucket?: string): Promise<Heartbeats> {
  return Heartbeats.watch(await NatsMembership.connect({ servers, bucket }));
}

/** Membership that forwards to a real one but can drop this agent's heartbeats on demand. */
export class LossyMembership implements Membership {
  dropPuts = 0;
  dropAll = false;
  /** Puts asked for, and puts passed on to the store. */
  attempts = 0;
  forwarded = 0;
  constructor(private readonly inner: Membership) {}
  put(record: MemberRecord): Promise<void> {
    this.attempts++;
    if (this.dropAll) return Promise.resolve();
    if (this.dropPuts > 0) {
      this.dropPuts--;
      return Promise.resolve();
    }
    this.forwarded++;
    return this.inner.put(record);
  }
  remove(id: string) {
    return this.inner.remove(id);
  }
  watch(listener: Parameters<Membership['watch']>[0]) {
    return this.inner.watch(listener);
  }
  readTopology() {
    return this.inner.readTopology();
  }
  casTopology(...args: Parameters<Membership['casTopology']>) {
    return this.inner.casTopology(...args);
  }
  close() {
    return this.inner.close();
  }
}

/** Fast timings for tests: liveness still 5x the heartbeat, so one lost heartbeat is harmless. */
export const FAST: Partial<AgentOptions> = { settleMs: 300, heartbeatMs: 100, livenessTimeoutMs: 500, host: '127.0.0.1' };

/**
 * The node's live subscriber (the light one) with messages lost on the way: `drop(subject)` is asked for each
 * live message and true loses it, as a core NATS message lost while NATS restarts would be.
 */
export function lossyLive(nc: NatsConnection, drop: (subject: string) => boolean): LiveSubscriber {
  const real = liveSubscriber(nc);
  return {
    light: real.light,
    open(sub: LiveSubscription) {
      const deliver = sub.deliver.bind(sub);
      sub.deliver = (msg) => {
        if (!drop(sub.subject)) deliver(msg);
      };
      real.open(sub);
    },
    close: (sub: LiveSubscription) => real.close(sub),
  };
}
