// Delivery through a fault, counted: a publisher sends every user {run, n}, n = 0, 1, 2, ... (retrying the same n
// with the same id while the store is away, so a retry is never a second message), and every client's application
// tally says how often it saw each n of this run. Lost: a confirmed n never seen; duplicated: seen twice. The run
// tag keeps runs on the same clients and stream apart (JetStream would also take a reused id for a duplicate).
import type { Publisher } from '@wsring/node-agent';
import type { TrackedClient } from '../integration/support.js';

export interface DeliveryTally {
  /** Messages the store confirmed. */
  published: number;
  /** Distinct messages the applications received. */
  delivered: number;
  lost: number;
  duplicated: number;
  /** `gap` events the clients reported (each is also counted in `lost` through the numbers it hides). */
  gaps: number;
  /** Publishes retried because the store did not confirm them in time. */
  retries: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class NumberedDelivery {
  /** user -> how many of its numbers the store has confirmed. */
  private readonly sent = new Map<string, number>();
  /** user -> times each number reached the application. */
  private readonly seen = new Map<string, number[]>();
  private gaps = 0;
  private retries = 0;
  private readonly failures: string[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly detachers: (() => void)[] = [];
  private readonly run = Math.random().toString(36).slice(2, 8);

  constructor(
    private readonly publisher: Publisher,
    private readonly clients: readonly TrackedClient[],
    private readonly intervalMs: number,
  ) {
    for (const c of clients) {
      const seen: number[] = [];
      this.seen.set(c.user, seen);
      this.detachers.push(
        c.client.on('message', (data) => {
          const { run, n } = data as { run?: unknown; n?: unknown };
          if (run === this.run && typeof n === 'number') seen[n] = (seen[n] ?? 0) + 1;
        }),
        c.client.on('gap', () => this.gaps++),
      );
    }
  }

  start(): void {
    this.running = true;
    this.loops = this.clients.map((c) => this.loop(c.user));
  }

  /** Stop after each user's number in flight is confirmed. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Stop counting what the clients receive (the clients may serve another run). */
  detach(): void {
    for (const off of this.detachers.splice(0)) off();
  }

  /** Up to `limit` lost messages as `user#n`, for the report. */
  lostSamples(limit = 5): string[] {
    const out: string[] = [];
    for (const [user, sent] of this.sent) {
      const seen = this.seen.get(user)!;
      for (let n = 0; n < sent && out.length < limit; n++) if (!seen[n]) out.push(`${user}#${n}`);
    }
    return out;
  }

  /** Every user has received at least `count` numbers. */
  receivedAtLeast(count: number): boolean {
    for (const seen of this.seen.values()) if (seen.filter(Boolean).length < count) return false;
    return true;
  }

  /** Every confirmed number has reached its user's application. */
  complete(): boolean {
    for (const [user, sent] of this.sent) {
      const seen = this.seen.get(user)!;
      for (let n = 0; n < sent; n++) if (!seen[n]) return false;
    }
    return true;
  }

  tally(): DeliveryTally {
    let published = 0;
    let delivered = 0;
    let lost = 0;
    let duplicated = 0;
    for (const [user, sent] of this.sent) {
      const seen = this.seen.get(user)!;
      published += sent;
      for (let n = 0; n < sent; n++) {
        if (seen[n]) delivered++;
        else lost++;
        duplicated += Math.max(0, (seen[n] ?? 0) - 1);
      }
    }
    if (this.failures.length) throw new Error(`publishes failed for good: ${this.failures.slice(0, 5).join('; ')}`);
    return { published, delivered, lost, duplicated, gaps: this.gaps, retries: this.retries };
  }

  private async loop(user: string): Promise<void> {
    for (let n = 0; this.running; n++) {
      const started = performance.now();
      for (;;) {
        try {
          await this.publisher.publish(user, { run: this.run, n }, { id: `${this.run}:${user}:${n}` });
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== 'STORE_UNAVAILABLE') {
            this.failures.push(`${user} #${n}: ${String(err)}`);
            return;
          }
          this.retries++;
          await sleep(100);
        }
      }
      this.sent.set(user, n + 1);
      await sleep(Math.max(0, this.intervalMs - (performance.now() - started)));
    }
  }
}
