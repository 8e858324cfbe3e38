// Limits both sides enforce on what crosses the wire.

/** Longest user id accepted, in UTF-16 code units. Longer or empty ids are closed with UNAUTHORIZED. */
export const MAX_USER_ID_LENGTH = 256;

/** A user id the agent accepts: a string of 1 to MAX_USER_ID_LENGTH UTF-16 code units. */
export function isValidUserId(userId: unknown): userId is string {
  return typeof userId === 'string' && userId.length > 0 && userId.length <= MAX_USER_ID_LENGTH;
}

/** Longest session id, and its alphabet: what a node assigns, and what it accepts from a client that asks to keep one. */
export const MAX_SESSION_ID_LENGTH = 32;
const SESSION_ID = /^[A-Za-z0-9_-]+$/;

/** A session id the agent keeps when a reconnecting client presents it; anything else gets a fresh one. */
export function isValidSessionId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_SESSION_ID_LENGTH && SESSION_ID.test(id);
}
