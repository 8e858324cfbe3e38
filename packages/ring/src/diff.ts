import { SPACE, type Segments } from './placement.js';
import type { Move } from './types.js';

/**
 * Walks two segment lists together and reports every stretch whose owner differs, merging neighbours
 * with the same (from, to). Cost: O(segments of both), independent of any keys.
 */
export function diffSegments(prev: Segments, prevIds: readonly string[], next: Segments, nextIds: readonly string[]): Move[] {
  const moves: Move[] = [];
  let i = 0;
  let j = 0;
  let at = 0;
  const a = prev.starts.length;
  const b = next.starts.length;
  while (at < SPACE) {
    const endA = i + 1 < a ? prev.starts[i + 1] : SPACE;
    const endB = j + 1 < b ? next.starts[j + 1] : SPACE;
    const end = Math.min(endA, endB);
    const from = prevIds[prev.owners[i]];
    const to = nextIds[next.owners[j]];
    if (from !== to) {
      const last = moves[moves.length - 1];
      if (last && last.end === at && last.from === from && last.to === to) last.end = end;
      else moves.push({ start: at, end, from, to });
    }
    at = end;
    if (endA === end) i++;
    if (endB === end) j++;
  }
  return moves;
}
