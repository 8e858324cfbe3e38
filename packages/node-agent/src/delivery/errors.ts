export type DeliveryErrorCode =
  /** The user id is not a non-empty string of at most MAX_USER_ID_LENGTH characters. */
  | 'BAD_USER'
  /** The data cannot be encoded as JSON (undefined, a cycle, a BigInt). */
  | 'BAD_DATA'
  /** The encoded message is larger than `maxMessageBytes`. */
  | 'TOO_LARGE'
  /** NATS or JetStream did not answer (disconnected, timed out, no stream): the message was not confirmed stored. */
  | 'STORE_UNAVAILABLE'
  /** JetStream refused the message for another reason (its own limits). */
  | 'REJECTED'
  /** Other publishers kept writing to the same user; the per-user retry limit ran out. */
  | 'CONTENDED'
  /** Delivery is not configured (the agent has no NATS connection). */
  | 'NO_STORE'
  | 'INVALID_OPTION'
  | 'CLOSED';

/**
 * A typed delivery failure. After STORE_UNAVAILABLE the message may or may not have been stored (the
 * acknowledgement can be what was lost): retry with the same `id` to make the retry idempotent.
 */
export class DeliveryError extends Error {
  constructor(readonly code: DeliveryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}
