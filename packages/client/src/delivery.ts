// Exactly-once, in-order delivery on the client side, as pure functions over the client's position. The node
// replays what a (re)connecting client is missing and dedupes replay against live; the client checks again
// end to end: a position at or below its last is a duplicate, and a message naming a predecessor above its
// last means something is missing, so the client asks for a replay and holds back until it is done.
import type { CheckpointFrame, GapFrame, MessageFrame, SyncedFrame } from '@wsring/protocol';

export interface Position {
  /** Highest position received (or reported lost, or synced to); undefined before the first. */
  readonly last?: number;
  /** A `resume` frame is out: messages that do not follow `last` are dropped until the replay brings them. */
  readonly resuming: boolean;
}

export type Verdict =
  /** Hand the data to the application. */
  | 'deliver'
  /** Already delivered: drop. */
  | 'duplicate'
  /** Something before this message is missing: drop it and send `resume` with `last`. */
  | 'resume'
  /** Something is missing and a resume is already out: drop it, the replay brings it again. */
  | 'wait';

export const initialPosition = (last?: number): Position => ({ last, resuming: false });

/** What to do with a message frame, and the position after it. Frames without `pos` are unlogged: delivered as they come. */
export function judgeMessage(p: Position, frame: Pick<MessageFrame, 'pos' | 'prev'>): { position: Position; verdict: Verdict } {
  const { pos, prev } = frame;
  if (pos === undefined) return { position: p, verdict: 'deliver' };
  if (p.last !== undefined && pos <= p.last) return { position: p, verdict: 'duplicate' };
  if (p.last !== undefined && prev !== undefined && prev > p.last) {
    return p.resuming ? { position: p, verdict: 'wait' } : { position: { ...p, resuming: true }, verdict: 'resume' };
  }
  return { position: { ...p, last: pos }, verdict: 'deliver' };
}

/** A gap report: the application is told, and delivery continues after `to`. Returns undefined for a stale report (nothing new lost). */
export function judgeGap(p: Position, frame: Pick<GapFrame, 'from' | 'to'>): { position: Position; lost: { from: number; to: number } } | undefined {
  if (p.last !== undefined && frame.to <= p.last) return undefined;
  const from = p.last === undefined ? frame.from : Math.max(frame.from, p.last + 1);
  return { position: { ...p, last: frame.to }, lost: { from, to: frame.to } };
}

/** The replay is done: the client has everything stored for it up to `pos`. */
export function judgeSynced(p: Position, frame: Pick<SyncedFrame, 'pos'>): Position {
  return { last: p.last === undefined ? frame.pos : Math.max(p.last, frame.pos), resuming: false };
}

/** An idle connection's position moves on; ignored while a resume is out (its replay decides). */
export function judgeCheckpoint(p: Position, frame: Pick<CheckpointFrame, 'pos'>): Position {
  if (p.resuming || p.last === undefined || frame.pos <= p.last) return p;
  return { ...p, last: frame.pos };
}
