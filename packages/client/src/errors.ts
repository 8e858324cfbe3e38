export type ClientErrorCode =
  /** An option is missing or invalid (thrown by createClient). */
  | 'INVALID_OPTION'
  /** The user id is not 1 to MAX_USER_ID_LENGTH UTF-16 code units of well-formed text (thrown by createClient). */
  | 'INVALID_USER'
  /** `topologyKey` is not an Ed25519 public key, or this runtime has no Ed25519 in WebCrypto. */
  | 'BAD_KEY'
  /** No WebSocket constructor: pass `WebSocket` (for example from the `ws` package). */
  | 'NO_WEBSOCKET'
  /** No fetch implementation: pass `fetch`. */
  | 'NO_FETCH'
  /** No bootstrap URL answered `/topology` with a usable topology. */
  | 'BOOTSTRAP_FAILED'
  /** A `/topology` body was not a valid topology, or a topology inside a move frame was invalid or did not match the frame. */
  | 'BAD_TOPOLOGY'
  /**
   * With `topologyKey`: a topology (fetched, or inside a move frame) is not signed by the fleet's key. The client
   * does not use it (a fetched one counts as a failed fetch; an inline one falls back to a refetch).
   */
  | 'UNTRUSTED_TOPOLOGY'
  /** The node welcomed the client as another user than `user` (the token belongs to someone else). Final. */
  | 'USER_MISMATCH'
  /** A reconnect or redirect frame named a node or URL that the topology (even refetched) does not list. */
  | 'UNKNOWN_NODE'
  /** Nodes kept redirecting the client (more than `maxRedirects` in a row); it backs off and refetches the topology. */
  | 'REDIRECT_LOOP'
  /** A node sent a frame the client could not decode. */
  | 'BAD_FRAME'
  /** A node reported a problem with something the client sent (an `error` frame). */
  | 'SERVER_ERROR'
  /** `send()` was called while the client was not open. */
  | 'NOT_OPEN'
  /** `send()` was given data that cannot be encoded as JSON. */
  | 'BAD_DATA'
  /** The token function threw or rejected. */
  | 'TOKEN_FAILED';

export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ClientError';
  }
}
