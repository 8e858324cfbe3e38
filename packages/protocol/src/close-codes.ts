// WebSocket close codes the agent sends, and which of them end a client for good.

/** Close codes. 1000-1011 are RFC 6455's; 4000-4999 are wsring's. */
export const CloseCode = {
  /** Client or agent closed normally. */
  NORMAL: 1000,
  /** The agent is shutting down. Reconnect (to the owner under a fresh topology). */
  GOING_AWAY: 1001,
  /** A frame exceeded the agent's maxPayload (sent by `ws` itself). */
  MESSAGE_TOO_BIG: 1009,
  /** The agent failed unexpectedly. Reconnect with backoff. */
  INTERNAL_ERROR: 1011,
  /** A `reconnect` frame named the new owner and the client did not leave within the grace period. */
  MOVED: 4000,
  /** This node is not the user's owner; a `redirect` frame preceded this close. */
  REDIRECT: 4001,
  /** This node and the user's spill-over candidates are at capacity. Retry with backoff. */
  OVER_CAPACITY: 4002,
  /** This node is draining and takes no new users; a `redirect` frame preceded this close when an owner is known. */
  DRAINING: 4003,
  /**
   * A newer socket of the same session (the same tab, reconnecting while the node still held its old socket)
   * took over on this node; the older socket is closed. Other sessions of the user are not affected.
   */
  REPLACED: 4004,
  /**
   * This node restarts in place (a deploy): reconnect to the same node after the `retryAfterMs` of the `restart`
   * frame that preceded this close (or with the usual backoff without one). Do not fail over meanwhile.
   */
  RESTARTING: 4005,
  /**
   * The user opened more sessions (tabs, devices) on this node than its per-user limit (`maxSessionsPerUser`):
   * the oldest is closed with this code. Final: reconnecting would close the next oldest, and two tabs would
   * take turns closing each other.
   */
  SESSION_LIMIT: 4006,
  /** A frame was not valid JSON or not a valid frame. */
  BAD_FRAME: 4400,
  /** The token was missing, invalid or expired. Do not retry with the same token. */
  UNAUTHORIZED: 4401,
  /** The client sent frames faster than the agent's per-connection limit. */
  RATE_LIMITED: 4429,
  /**
   * The token the connection was authenticated with passed its `exp`. Reconnect with a fresh token (the SDK asks
   * its token function); reconnecting with the same one is refused with UNAUTHORIZED. A client with a fixed
   * token cannot renew it, so for it this is final.
   */
  TOKEN_EXPIRED: 4440,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Close codes after which a client must not reconnect on its own: a rejected token, a newer socket of the same
 * session, and the oldest session closed for the per-user session limit (reconnecting would take a slot back
 * and start a tug of war between two tabs).
 */
export const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.UNAUTHORIZED, CloseCode.REPLACED, CloseCode.SESSION_LIMIT]);
