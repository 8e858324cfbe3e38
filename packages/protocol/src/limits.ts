// Limits both sides enforce on what crosses the wire.

/** Longest user id accepted, in UTF-16 code units. Longer or empty ids are closed with UNAUTHORIZED. */
export const MAX_USER_ID_LENGTH = 256;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A user id the agent accepts: a well-formed string (no unpaired surrogate) of 1 to MAX_USER_ID_LENGTH UTF-16 code
 * units. Well-formed matters: UTF-8 encoding turns an unpaired surrogate into U+FFFD, so `carol\uD800` and
 * `carol\uFFFD` would otherwise share one delivery subject.
 */
export function isValidUserId(userId: unknown): userId is string {
  return typeof userId === 'string' && userId.length > 0 && userId.length <= MAX_USER_ID_LENGTH && !UNPAIRED_SURROGATE.test(userId);
}
