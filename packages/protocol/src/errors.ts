export type ProtocolErrorCode =
  /** A frame is not valid JSON. */
  | 'BAD_JSON'
  /** A frame is JSON but not a valid frame of its type. */
  | 'BAD_FRAME'
  /** A frame's `type` is not one this side knows. */
  | 'UNKNOWN_FRAME'
  /** A `/topology` body (fetched, or inside a move frame) is not a valid topology. */
  | 'BAD_TOPOLOGY'
  /** A topology key (an Ed25519 public key) could not be imported. */
  | 'BAD_KEY';

/** Anything read from the wire that breaks the protocol. `code` names the problem; `message` says what. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProtocolError';
  }
}
