// Limits both sides enforce on what crosses the wire.

/** Longest user id accepted, in UTF-16 code units. Longer or empty ids are closed with UNAUTHORIZED. */
export const MAX_USER_ID_LENGTH = 256;

/**
 * A user id the agent accepts: a well-formed string (no unpaired surrogate) of 1 to MAX_USER_ID_LENGTH UTF-16
 * code units. Ill-formed ids are refused because their UTF-8 form replaces each lone surrogate with U+FFFD, so
 * `carol\uD800` and `carol\uFFFD` would share one delivery subject.
 */
export function isValidUserId(userId: unknown): userId is string {
  return typeof userId === 'string' && userId.length > 0 && userId.length <= MAX_USER_ID_LENGTH && isWellFormed(userId);
}

/** No lone surrogate (String.prototype.isWellFormed, which older browsers lack). */
function isWellFormed(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    if (unit > 0xdbff) return false;
    const next = text.charCodeAt(i + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/** Longest session id, and its alphabet: what a node assigns, and what it accepts from a client that asks to keep one. */
export const MAX_SESSION_ID_LENGTH = 32;
const SESSION_ID = /^[A-Za-z0-9_-]+$/;

/** A session id the agent keeps when a reconnecting client presents it; anything else gets a fresh one. */
export function isValidSessionId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_SESSION_ID_LENGTH && SESSION_ID.test(id);
}
