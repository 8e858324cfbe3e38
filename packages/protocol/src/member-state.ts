/**
 * Lifecycle state of a fleet member, in its membership record and in `/topology`: `joining` (registered, already
 * in the ring), `active` (has applied a topology that includes it), `draining` (out of the ring, still serving
 * its users until they have moved).
 */
export type MemberState = 'joining' | 'active' | 'draining';

export const MEMBER_STATES: readonly MemberState[] = Object.freeze(['joining', 'active', 'draining'] as const);

export function isMemberState(x: unknown): x is MemberState {
  return (MEMBER_STATES as readonly unknown[]).includes(x);
}
