import { SPACE, type Segments } from './placement.js';
import type { Move } from './types.js';

/**
 * Walks two segment lists together and reports every stretch whose owner differs. Cost: O(segments of
 * both), independent of any keys.
 *
 * The output needs no merging pass: each boundary the walk crosses is a boundary of `prev` or of `next`,
 * and both lists are merged (neighbours have different owners, ids are unique), so two adjacent moves
 * always differ in `from` or in `to`. That holds whichever algorithms built the two lists.
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
    if (from !== to) moves.push({ start: at, end, from, to });
    at = end;
    if (endA === end) i++;
    if (endB === end) j++;
  }
  return moves;
}
