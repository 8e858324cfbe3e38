// Users of a restarted node that other nodes hold while it is down, and how arrivals at a down node spread over
// them. A client that finds its node down is refused at once, marks it unreachable and connects to the next node of
// its preference list (client machine: onConnectFailed -> connectToOwner), which accepts it as a stand-in
// (admission.ts). Which next node depends on the user's hash; the model spreads each crowd over the node's stand-ins
// in proportion to how many of the node's users each would take (failover.ts), cumulatively: after any number of
// crowds every stand-in has had its share of all of them to within one user.

/** Splits successive counts in proportion to fixed weights, each part within one of its share of the running total. */
export class Apportioner {
  private readonly given: number[];
  private readonly sum: number;
  private total = 0;

  constructor(private readonly weights: readonly number[]) {
    this.given = weights.map(() => 0);
    this.sum = weights.reduce((a, b) => a + b, 0);
  }

  /** Parts of `n` (one per weight) that bring every part to its share of everything taken so far. */
  take(n: number): number[] {
    const out = this.weights.map(() => 0);
    if (n <= 0 || this.sum <= 0) return out;
    this.total += n;
    const owed = (j: number) => (this.total * this.weights[j]) / this.sum - this.given[j];
    let left = n;
    // Whole users first, what each part is owed rounded down; then one at a time to the most owed (ties: the first).
    for (let j = 0; j < out.length && left > 0; j++) {
      const whole = Math.min(left, Math.max(0, Math.floor(owed(j))));
      out[j] += whole;
      this.given[j] += whole;
      left -= whole;
    }
    for (; left > 0; left--) {
      let best = 0;
      for (let j = 1; j < out.length; j++) if (owed(j) > owed(best)) best = j;
      out[best]++;
      this.given[best]++;
    }
    return out;
  }
}

/** A node's stand-ins: node indices, and how many of its users each would take. */
export interface StandInSplit {
  to: readonly number[];
  weights: readonly number[];
}

/** Per down node: where arrivals go, and the users each stand-in holds for it until they may go back. */
export class StandIns {
  private readonly splits = new Map<number, { split: StandInSplit; parts: Apportioner }>();
  /** owner -> stand-in -> users it holds for the owner. */
  private readonly held = new Map<number, Map<number, number>>();
  /** Users held for some node, all nodes together. */
  count = 0;

  /** `split(owner)`: the owner's stand-ins, asked once per owner, the first time one of its arrivals fails over. */
  constructor(private readonly split: (owner: number) => StandInSplit) {}

  /** Where `n` users that found `owner` down go: [stand-in, users] pairs (none when it has no stand-in). */
  spread(owner: number, n: number): [number, number][] {
    let s = this.splits.get(owner);
    if (!s) {
      const split = this.split(owner);
      this.splits.set(owner, (s = { split, parts: new Apportioner(split.weights) }));
    }
    const parts = s.parts.take(n);
    return s.split.to.flatMap((to, j) => (parts[j] > 0 ? [[to, parts[j]] as [number, number]] : []));
  }

  /** `owner` restarts again (the ring may have changed since): its stand-ins are asked afresh. */
  forget(owner: number): void {
    this.splits.delete(owner);
  }

  /** The fraction of `owner`'s users each of its stand-ins would take (none before one of its arrivals failed over). */
  fractions(owner: number): Map<number, number> {
    const s = this.splits.get(owner)?.split;
    const sum = s ? s.weights.reduce((a, b) => a + b, 0) : 0;
    return new Map(s && sum > 0 ? s.to.map((to, j) => [to, s.weights[j] / sum] as const) : []);
  }

  hold(owner: number, standIn: number, n: number): void {
    if (n <= 0) return;
    let mine = this.held.get(owner);
    if (!mine) this.held.set(owner, (mine = new Map()));
    mine.set(standIn, (mine.get(standIn) ?? 0) + n);
    this.count += n;
  }

  /** Every user held for `owner`, by stand-in, in the order they were first held: they may go back; forgotten here. */
  release(owner: number): [number, number][] {
    const mine = this.held.get(owner);
    if (!mine) return [];
    this.held.delete(owner);
    const out = [...mine];
    for (const [, n] of out) this.count -= n;
    return out;
  }
}
