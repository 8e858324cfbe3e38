import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** JetStream's answer to a publish. */
export interface PubAck {
  seq: number;
  duplicate: boolean;
}

/** JetStream refused the publish (its JSON error). */
export class AckRefused extends Error {
  constructor(readonly status: number, readonly errCode: number, description: string) {
    super(description);
    this.name = 'AckRefused';
  }
}

/** No answer within the timeout: the message may or may not have been stored. */
export class AckLost extends Error {
  constructor(message = 'no acknowledgement in time') {
    super(message);
    this.name = 'AckLost';
  }
}

interface Waiter {
  deadline: number;
  resolve(ack: PubAck): void;
  reject(err: Error): void;
}

const decoder = new TextDecoder();

function answerOf(msg: Msg): PubAck | Error {
  const status = msg.headers?.code ?? 0;
  // A status without a body: 503 no responders (no stream on the subject, or JetStream not there).
  if (status >= 300 && msg.data.length === 0) return new AckRefused(status, 0, msg.headers?.description || `status ${status}`);
  try {
    const body = JSON.parse(decoder.decode(msg.data)) as { seq?: number; duplicate?: boolean; error?: { code?: number; err_code?: number; description?: string } };
    if (body.error) return new AckRefused(body.error.code ?? 500, body.error.err_code ?? 0, body.error.description ?? 'refused');
    if (Number.isSafeInteger(body.seq)) return { seq: body.seq as number, duplicate: body.duplicate === true };
  } catch {
    // fall through
  }
  return new AckRefused(500, 0, 'unreadable acknowledgement');
}

/**
 * Publishes to JetStream with many acknowledgements in flight over one inbox subscription: each publish names
 * `<inbox>.<n>` as its reply subject and one timer sweeps the waiters whose time ran out. Cheaper per message
 * than one request each (no timer or promise race per publish), which is what lets many users' publishes be
 * pipelined through one connection.
 */
export class AckInbox {
  private readonly prefix: string;
  private readonly sub: Subscription;
  /** In publish order, so deadlines (one timeout for all) are in order too and the sweep stops at the first live one. */
  private readonly waiting = new Map<number, Waiter>();
  private next = 1;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly nc: NatsConnection, private readonly timeoutMs: number) {
    this.prefix = createInbox();
    this.sub = nc.subscribe(`${this.prefix}.*`, {
      callback: (err, msg) => {
        if (!err) this.onAnswer(msg);
      },
    });
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  publish(subject: string, payload: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
    const n = this.next++;
    return new Promise<PubAck>((resolve, reject) => {
      try {
        this.nc.publish(subject, payload, { headers, reply: `${this.prefix}.${n}` });
      } catch (err) {
        reject(err as Error);
        return;
      }
      this.waiting.set(n, { deadline: performance.now() + this.timeoutMs, resolve, reject });
      this.timer ??= setInterval(() => this.sweep(), Math.max(5, Math.min(250, this.timeoutMs / 4)));
      this.timer.unref?.();
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const w of this.waiting.values()) w.reject(new AckLost('publisher closed'));
    this.waiting.clear();
    if (!this.sub.isClosed()) this.sub.unsubscribe();
  }

  private onAnswer(msg: Msg): void {
    const n = Number(msg.subject.slice(this.prefix.length + 1));
    const w = this.waiting.get(n);
    if (!w) return;
    this.waiting.delete(n);
    const answer = answerOf(msg);
    if (answer instanceof Error) w.reject(answer);
    else w.resolve(answer);
  }

  private sweep(): void {
    const now = performance.now();
    for (const [n, w] of this.waiting) {
      if (w.deadline > now) break;
      this.waiting.delete(n);
      w.reject(new AckLost());
    }
    if (this.waiting.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
