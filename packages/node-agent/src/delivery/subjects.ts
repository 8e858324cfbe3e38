// Subjects of the delivery stream. A user id can hold any character, but a NATS subject token cannot hold
// '.', '*', '>' or whitespace, so each user id is written as the base64url of its UTF-8 bytes (no padding):
// [A-Za-z0-9_-] only, one token, reversible, and distinct users never share a subject.

/** The subject token of a user id. */
export function userToken(userId: string): string {
  return Buffer.from(userId, 'utf8').toString('base64url');
}

/** The user id a subject token stands for. */
export function userOfToken(token: string): string {
  return Buffer.from(token, 'base64url').toString('utf8');
}

/** `<prefix>.<token>`: where a user's messages are stored (prefix `wsring.user`) or republished (prefix `wsring.live`). */
export function subjectOf(prefix: string, userId: string): string {
  return `${prefix}.${userToken(userId)}`;
}

/**
 * `subjectOf` as one flat string, for subjects held as long as a connection: a concatenation is a rope of three
 * strings (~96 bytes for a typical user), the flat copy one (~56).
 */
export function flatSubjectOf(prefix: string, userId: string): string {
  return Buffer.from(subjectOf(prefix, userId), 'latin1').toString('latin1');
}
