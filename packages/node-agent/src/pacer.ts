import type { Clock } from './clock.js';
import { TokenBucket } from './token-bucket.js';

export interface PacerOptions {
  ratePerSec: number;
  burst: number;
  jitterMs: number;
  clock: Clock;
  /** Uniform in [0, 1). Injectable for reproducible tests. */
  random?: () => number;
}

/**
 * Sends targeted reconnects at a bounded rate. Each queued user first waits a random jitter (so the
 * fleet's agents do not fire in lockstep), then waits for a token. The token bucket alone decides
 * when a send happens, so the rate bound holds whatever the jitter.
 */
export class Pacer {
  private readonly bucket: TokenBucket;
  // FIFO of users past their jitter; `head` avoids O(n) shifts on long queues.
  private ready: string[] = [];
  private head = 0;
  private readonly waiting = new Map<string, unknown>();
  private readonly queued = new Set<string>();
  private timer: unknown = undefined;
  private readonly random: () => number;
  private onIdle: (() => void) | undefined;

  constructor(private readonly options: PacerOptions, private readonly send: (userId: string) => void) {
    this.bucket = new TokenBucket(options.ratePerSec, options.burst, options.clock.now());
    this.random = options.random ?? Math.random;
  }

  /** Users waiting for jitter or a token. */
  get pending(): number {
    return this.queued.size;
  }

  /** Queue a user; a user already queued is not queued twice. */
  enqueue(userId: string): void {
    if (this.queued.has(userId)) return;
    this.queued.add(userId);
    const jitter = this.options.jitterMs > 0 ? Math.floor(this.random() * this.options.jitterMs) : 0;
    if (jitter === 0) {
      this.ready.push(userId);
      this.pump();
      return;
    }
    const handle = this.options.clock.setTimeout(() => {
      this.waiting.delete(userId);
      this.ready.push(userId);
      this.pump();
    }, jitter);
    this.waiting.set(userId, handle);
  }

  /** Drop a user from the queue (it left on its own). */
  cancel(userId: string): void {
    if (!this.queued.delete(userId)) return;
    const handle = this.waiting.get(userId);
    if (handle !== undefined) {
      this.options.clock.clearTimeout(handle);
      this.waiting.delete(userId);
    }
    // A cancelled id left in `ready` is skipped when its turn comes.
    this.checkIdle();
  }

  /** Called once every queued user has been sent or cancelled. */
  whenIdle(fn: () => void): void {
    this.onIdle = fn;
    this.checkIdle();
  }

  stop(): void {
    for (const h of this.waiting.values()) this.options.clock.clearTimeout(h);
    this.waiting.clear();
    this.ready = [];
    this.head = 0;
    this.queued.clear();
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    if (this.timer !== undefined) return;
    const clock = this.options.clock;
    while (this.head < this.ready.length) {
      const userId = this.ready[this.head];
      if (!this.queued.has(userId)) {
        this.head++;
        continue;
      }
      if (!this.bucket.tryTake(clock.now())) {
        this.timer = clock.setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, Math.max(1, this.bucket.waitMs(clock.now())));
        return;
      }
      this.head++;
      this.queued.delete(userId);
      this.send(userId);
    }
    this.ready = [];
    this.head = 0;
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.queued.size === 0 && this.onIdle) {
      const fn = this.onIdle;
      this.onIdle = undefined;
      fn();
    }
  }
}
