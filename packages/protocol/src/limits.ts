// Limits both sides enforce on what crosses the wire.

/** Longest user id accepted, in UTF-16 code units. Longer or empty ids are closed with UNAUTHORIZED. */
export const MAX_USER_ID_LENGTH = 256;

/** A user id the agent accepts: a string of 1 to MAX_USER_ID_LENGTH UTF-16 code units. */
export function isValidUserId(userId: unknown): userId is string {
  return typeof userId === 'string' && userId.length > 0 && userId.length <= MAX_USER_ID_LENGTH;
}
