// The one place that reaches into nats.js internals. A node holds one core subscription per connected user (on
// that user's live subject). Through the public `nc.subscribe` each one is a nats.js `SubscriptionImpl`: an async
// iterator with three deferred promises and their closures, ~1.25 KiB of heap even when only a callback is used,
// which was most of what delivery cost per idle connection. Here a subscription is a plain object that the
// connection's protocol handler accepts in its place: the handler only reads `sid`, `subject`, `queue`, `max`,
// `received` and `callback`, and calls `close`, `drain` and `unsubscribe` (nats.js 3.x `ProtocolHandler`:
// `subscribe`, `unsubscribe`, `processMsg`, `sendSubscriptions` on reconnect, `Subscriptions.cancel/close/
// handleError`). The object is the feed's own per-user record (it extends `LiveSubscription`), so a user costs one
// small object, its subject string and two map entries.
//
// If the handler is not there or not shaped as expected (another nats.js version, a wrapped connection), the
// public API is used instead: same behaviour, more memory. `tests/delivery-live-subscriptions.test.ts` fails if the
// light path is not taken with the nats.js this package depends on, or stops receiving, unsubscribing or
// resubscribing after a reconnect.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';

/** What nats.js 3.x's protocol handler offers for subscriptions (internal, checked at run time). */
interface ProtocolHandlerShape {
  subscribe(sub: LiveSubscription): unknown;
  unsubscribe(sub: LiveSubscription, max?: number): void;
  isClosed(): boolean;
  subscriptions: { add(sub: unknown): unknown; get(sid: number): unknown; cancel(sub: unknown): void; all(): unknown[] };
}

const CLOSED = Promise.resolve();

/**
 * One core subscription on `subject`, delivering each message to `deliver`. Subclassed by its user (no closure
 * per subscription). The fields below are the ones nats.js's protocol handler reads and writes.
 */
export abstract class LiveSubscription {
  /** Set by nats.js when the subscription is registered (and renumbered on a resubscribe). */
  sid = 0;
  received = 0;
  /** Never set by us (no auto-unsubscribe); nats.js writes it when unsubscribing. Read from the prototype until then. */
  declare max: number | undefined;

  constructor(readonly subject: string) {}

  /** A message on the subject. */
  abstract deliver(msg: Msg): void;

  // ---- called by nats.js ----
  /** Errors (a permission violation on the subject) are ignored as they were with `nc.subscribe`. */
  callback(err: Error | null, msg: Msg): void {
    if (!err) this.deliver(msg);
  }
  close(): void {}
  drain(): Promise<void> {
    return CLOSED;
  }
  unsubscribe(): void {}
  isClosed(): boolean {
    return false;
  }
  isDraining(): boolean {
    return false;
  }
  getSubject(): string {
    return this.subject;
  }
  getID(): number {
    return this.sid;
  }
}

/** Opens and closes live subscriptions on one NATS connection. */
export interface LiveSubscriber {
  /** Whether subscriptions are the light objects (true with the nats.js this package is built against). */
  readonly light: boolean;
  open(sub: LiveSubscription): void;
  close(sub: LiveSubscription): void;
}

function protocolOf(nc: NatsConnection): ProtocolHandlerShape | undefined {
  const p = (nc as unknown as { protocol?: Partial<ProtocolHandlerShape> }).protocol;
  const s = p?.subscriptions;
  const fn = (x: unknown) => typeof x === 'function';
  if (!p || !s || !fn(p.subscribe) || !fn(p.unsubscribe) || !fn(p.isClosed) || !fn(s.add) || !fn(s.get) || !fn(s.cancel) || !fn(s.all)) return undefined;
  return p as ProtocolHandlerShape;
}

class LightSubscriber implements LiveSubscriber {
  readonly light = true;
  constructor(private readonly nc: NatsConnection, private readonly protocol: ProtocolHandlerShape) {}

  open(sub: LiveSubscription): void {
    // As `nc.subscribe` does: no new subscription on a closed or draining connection.
    if (this.nc.isClosed() || this.nc.isDraining()) return;
    this.protocol.subscribe(sub);
  }

  close(sub: LiveSubscription): void {
    if (sub.sid === 0 || this.protocol.isClosed()) return;
    this.protocol.unsubscribe(sub);
  }
}

class PublicSubscriber implements LiveSubscriber {
  readonly light = false;
  private readonly subs = new Map<LiveSubscription, Subscription>();
  constructor(private readonly nc: NatsConnection) {}

  open(sub: LiveSubscription): void {
    if (this.nc.isClosed() || this.nc.isDraining()) return;
    this.subs.set(sub, this.nc.subscribe(sub.subject, { callback: (err, msg) => sub.callback(err, msg) }));
  }

  close(sub: LiveSubscription): void {
    this.subs.get(sub)?.unsubscribe();
    this.subs.delete(sub);
  }
}

/**
 * The light subscriber when `nc` is a nats.js 3.x connection whose own `subscribe` is in place (a connection
 * wrapped to intercept `subscribe` keeps its wrapper), else the public API.
 */
export function liveSubscriber(nc: NatsConnection): LiveSubscriber {
  const protocol = protocolOf(nc);
  const own = Object.getPrototypeOf(nc)?.subscribe;
  return protocol && own !== undefined && nc.subscribe === own ? new LightSubscriber(nc, protocol) : new PublicSubscriber(nc);
}
