// Connections a node accepted, in 100 ms buckets of its own clock over the last 10 s: the arrivals per second
// and the most in any one-second window, which is what a receiver budget (acceptRate) bounds. Read by /healthz,
// /metrics and the fleet page, so an operator (or a benchmark) sees the peak the node itself measured.
import type { Clock } from './clock.js';

const BUCKET_MS = 100;
const WINDOW_BUCKETS = 10; // one second
const HISTORY_BUCKETS = 100; // ten seconds
const slot = (bucket: number) => ((bucket % HISTORY_BUCKETS) + HISTORY_BUCKETS) % HISTORY_BUCKETS;

export class ArrivalCounter {
  private readonly counts = new Array<number>(HISTORY_BUCKETS).fill(0);
  /** Index (time / BUCKET_MS) of the bucket now filling. */
  private bucket: number;
  /** Every arrival since start. */
  total = 0;

  constructor(private readonly clock: Clock) {
    this.bucket = Math.floor(clock.now() / BUCKET_MS);
  }

  add(n = 1): void {
    this.advance();
    this.counts[slot(this.bucket)] += n;
    this.total += n;
  }

  /** Arrivals in the last complete second (the ten complete buckets before the one filling). */
  get perSec(): number {
    this.advance();
    return this.sumEndingAt(this.bucket - 1);
  }

  /** The most arrivals in any one-second window (of whole buckets) within the last ten seconds, the filling bucket included. */
  get peak(): number {
    this.advance();
    let window = 0;
    let best = 0;
    const oldest = this.bucket - HISTORY_BUCKETS + 1;
    for (let b = oldest; b <= this.bucket; b++) {
      window += this.counts[slot(b)];
      if (b - WINDOW_BUCKETS >= oldest) window -= this.counts[slot(b - WINDOW_BUCKETS)];
      best = Math.max(best, window);
    }
    return best;
  }

  private sumEndingAt(last: number): number {
    let sum = 0;
    for (let b = last - WINDOW_BUCKETS + 1; b <= last; b++) sum += this.counts[slot(b)];
    return sum;
  }

  private advance(): void {
    const now = Math.floor(this.clock.now() / BUCKET_MS);
    if (now <= this.bucket) return;
    for (let b = this.bucket + 1; b <= Math.min(now, this.bucket + HISTORY_BUCKETS); b++) this.counts[slot(b)] = 0;
    this.bucket = now;
  }
}
