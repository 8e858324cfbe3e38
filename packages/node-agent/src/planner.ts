import type { KeyIndex, Ring } from '@wsring/ring';

export interface Move {
  userId: string;
  /** Node id of the user's new home. */
  to: string;
}

export interface PlanInput {
  self: string;
  prev: Ring;
  next: Ring;
  /** Every user connected here. */
  index: KeyIndex;
  /** Users held here although another node owns them, with the nodes they must avoid (unreachable or full). */
  standIns: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface Plan {
  moves: Move[];
  /** Stand-ins this node now owns. */
  promoted: string[];
}

/**
 * Where a local user belongs under `ring`, or undefined if it stays here. A stand-in stays while its
 * owner is one it must avoid; once membership drops that node, its new owner decides.
 */
export function targetOf(ring: Ring, self: string, userId: string, avoid: ReadonlySet<string> | undefined, maxPrefs: number): string | undefined {
  if (ring.nodes.length === 0) return undefined;
  const owner = ring.owner(userId);
  if (owner === self) return undefined;
  if (!avoid || !avoid.has(owner)) return owner;
  const selfInRing = ring.nodes.some((n) => n.id === self);
  if (selfInRing) return undefined;
  // This node is leaving: send the user to the first node of its list it need not avoid.
  const prefs = ring.owners(userId, Math.min(ring.nodes.length, maxPrefs));
  return prefs.find((id) => !avoid.has(id)) ?? owner;
}

/**
 * Exactly the local users that must move from `prev` to `next`. Owned users come from the key
 * index's range diff (cost in proportion to the moved ranges and their users, not to all users);
 * stand-ins, few by nature, are checked one by one.
 */
export function planMoves({ self, prev, next, index, standIns }: PlanInput, maxPrefs = 8): Plan {
  const moves: Move[] = [];
  const promoted: string[] = [];
  if (next.nodes.length === 0) return { moves, promoted };
  const candidates: Iterable<string> =
    prev.nodes.length === 0 ? index.keys() : (function* () {
      for (const m of index.moved(prev, next)) yield m.key;
    })();
  for (const userId of candidates) {
    if (standIns.has(userId)) continue;
    const to = targetOf(next, self, userId, undefined, maxPrefs);
    if (to !== undefined) moves.push({ userId, to });
  }
  for (const [userId, avoid] of standIns) {
    const to = targetOf(next, self, userId, avoid, maxPrefs);
    if (to !== undefined) moves.push({ userId, to });
    else if (next.owner(userId) === self) promoted.push(userId);
  }
  return { moves, promoted };
}

/**
 * Moves for stand-ins that have just stopped avoiding a node (it restarted and serves again, see
 * `FledNodes`): the ring has not changed, so no plan covers them. Each goes where `targetOf` says
 * under its remaining avoid set, usually back to its owner; one that must still avoid its owner stays.
 */
export function planReturns(ring: Ring, self: string, userIds: Iterable<string>, standIns: ReadonlyMap<string, ReadonlySet<string>>, maxPrefs = 8): Move[] {
  const moves: Move[] = [];
  for (const userId of userIds) {
    const avoid = standIns.get(userId);
    if (avoid === undefined) continue;
    const to = targetOf(ring, self, userId, avoid, maxPrefs);
    if (to !== undefined) moves.push({ userId, to });
  }
  return moves;
}
