import { withClockDeadline, type Clock } from './clock.js';
import type { Logger, Membership, StoredTopology } from './types.js';

export interface EpochAgreementOptions {
  /** How long agreement may wait on the store before labelling locally: a rebalance must not wait on an outage. */
  timeoutMs: number;
  /** Compare-and-set attempts before giving up for this round. */
  attempts?: number;
  clock: Clock;
  logger: Logger;
}

export interface AgreedEpoch {
  epoch: number;
  /** False when labelled locally because the store did not answer: agreed again once it is back. */
  confirmed: boolean;
}

/**
 * The fleet-wide epoch for a ring. The store holds one label, `{ epoch, fingerprint }`; an agent that
 * settles on a ring adopts the stored epoch if it already names that fingerprint, else writes stored + 1
 * by compare-and-set (a lost race means another agent labelled first: read its label).
 */
export class EpochAgreement {
  /** Highest epoch announced in the store, applied here or not. */
  private known = 0;

  constructor(private readonly membership: Membership, private readonly o: EpochAgreementOptions) {}

  get knownEpoch(): number {
    return this.known;
  }

  /** A label seen in the store (watched or read). */
  observe(stored: StoredTopology): void {
    this.known = Math.max(this.known, stored.epoch);
  }

  /**
   * The epoch for `fingerprint`, given the epoch this agent serves now. Never rejects: without the store
   * the answer is a local label above everything known, `confirmed: false`.
   */
  async agree(fingerprint: string, serving: { epoch: number; fingerprint: string }): Promise<AgreedEpoch> {
    // Epochs never go down, and a new ring never keeps the number of the one it replaces.
    const floor = fingerprint === serving.fingerprint ? serving.epoch : serving.epoch + 1;
    const servingEpoch = serving.epoch;
    try {
      const epoch = await withClockDeadline(this.o.clock, this.casLoop(fingerprint, floor), this.o.timeoutMs, () => new Error('membership store did not answer'));
      return { epoch, confirmed: true };
    } catch (err) {
      this.o.logger.warn({ err: String(err) }, 'cannot agree the epoch with the fleet, labelling locally');
      return { epoch: Math.max(this.known, servingEpoch) + 1, confirmed: false };
    }
  }

  /**
   * The stored label if it names `fingerprint` at `floor` or above; else a new label above both the stored
   * epoch and `floor` (a label below the floor exists after this agent labelled locally in an outage: the
   * fleet adopts the higher one, see `Rebalancer.storedTopology`).
   */
  private async casLoop(fingerprint: string, floor: number): Promise<number> {
    const attempts = this.o.attempts ?? 5;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const current = await this.membership.readTopology();
      if (current) this.observe(current.stored);
      if (current && current.stored.fingerprint === fingerprint && current.stored.epoch >= floor) return current.stored.epoch;
      const next = Math.max((current?.stored.epoch ?? 0) + 1, floor);
      if (await this.membership.casTopology({ epoch: next, fingerprint }, current?.revision ?? 0)) {
        this.known = Math.max(this.known, next);
        return next;
      }
    }
    throw new Error('compare-and-set kept losing');
  }
}
