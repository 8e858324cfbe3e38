/**
 * A token bucket: at most `burst` tokens, refilled at `ratePerSec`. Over any interval of length T
 * at most burst + ratePerSec * T tokens are taken.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  /** @param tokens tokens at start (default: a full bucket). */
  constructor(private readonly ratePerSec: number, private readonly burst: number, now: number, tokens = burst) {
    this.tokens = Math.min(burst, tokens);
    this.last = now;
  }

  /** Tokens available now (fractional). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
      this.last = now;
    }
  }

  /** Take one token if there is one. */
  tryTake(now: number): boolean {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until a token will be available (0 if one is). */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSec);
  }
}
