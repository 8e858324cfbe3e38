// How the senders of one step split each receiver's budget (the receiver-budget policy). The agents do it without
// talking to each other, from the ring diff every one of them knows: sender S takes
// acceptRate(R) x |hash space S hands to R| / |hash space handed to R| (`receiverShares` of @wsring/node-agent).
// The model runs that very function, and the agent's `fallbackShare` for lanes the diff does not cover, on the
// step's rings with the accept rates the nodes declare.
import { fallbackShare, receiverShares, rendezvousFlows, sharesOfFlows } from '@wsring/node-agent/internal';
import { RingError, type Move, type Ring, type RingNode } from '@wsring/ring';

/** Per step: each sender's share of each receiver's declared accept rate. */
export interface BudgetSplit {
  /** This sender's share of every receiver it sends to, moves per second, given each node's declared acceptRate. */
  shares(sender: string, acceptRate: (nodeId: string) => number): Map<string, number>;
  /**
   * The share for a lane the diff does not cover (users still queued from an earlier step): the agent's
   * `fallbackShare` over the ring it re-rates its lanes under (the one before the change).
   */
  fallback(to: string, acceptRate: number): number;
}

/**
 * The agents' split for the change `prev` -> `next`. `moves` is `prev.diff(next)` when the algorithm has ranges
 * (computed once by the planner, not once per sender), null for rendezvous (the agents then split each receiver's
 * rate by sampled flows, see `rendezvousFlows`). Only the nodes and the diff are kept, not the rings' points: a run of
 * thousands of steps keeps one of these per step.
 */
export function ringSplit(prev: Ring, next: Ring, moves: Move[] | null): BudgetSplit {
  const before = new DiffView(prev, moves);
  const after = new DiffView(next, null);
  if (moves === null) {
    // Rendezvous: the agents' sampled flows (`rendezvousFlows`), worked out once per step rather than per sender.
    const flows = rendezvousFlows(prev, next);
    return {
      shares: (sender, acceptRate) => sharesOfFlows(flows, sender, acceptRate),
      fallback: (to, acceptRate) => fallbackShare(before, to, acceptRate),
    };
  }
  return {
    shares: (sender, acceptRate) => receiverShares(before, after, sender, acceptRate),
    fallback: (to, acceptRate) => fallbackShare(before, to, acceptRate),
  };
}

/**
 * For placements no agent runs (hash-mod-n, jump in `compare`): the same split in proportion to the users each
 * sender carries, which is what the hash-space split amounts to for uniformly hashed users; the fallback, like the
 * agent's, 1 / (nodes - 1) of the rate.
 */
export function flowSplit(flows: readonly { from: string; to: string; users: number }[], nodesBefore: number): BudgetSplit {
  const toward = new Map<string, number>();
  for (const f of flows) if (f.users > 0) toward.set(f.to, (toward.get(f.to) ?? 0) + f.users);
  return {
    shares: (sender, acceptRate) => {
      const out = new Map<string, number>();
      for (const f of flows) if (f.from === sender && f.users > 0) out.set(f.to, (out.get(f.to) ?? 0) + (acceptRate(f.to) * f.users) / toward.get(f.to)!);
      return out;
    },
    fallback: (_to, acceptRate) => acceptRate / Math.max(1, nodesBefore - 1),
  };
}

/**
 * What `receiverShares` and `fallbackShare` read of a ring: its nodes, and its diff to the next ring (or, for
 * rendezvous, the library's refusal to give one). Anything else was not kept.
 */
class DiffView implements Ring {
  readonly algorithm: Ring['algorithm'];
  readonly seed: number;
  readonly nodes: readonly RingNode[];
  readonly fingerprint: string;

  constructor(ring: Ring, private readonly moves: Move[] | null) {
    this.algorithm = ring.algorithm;
    this.seed = ring.seed;
    this.nodes = ring.nodes;
    this.fingerprint = ring.fingerprint;
  }

  diff(): Move[] {
    if (this.moves === null) throw new RingError('NO_RANGES', `${this.algorithm} placement has no hash ranges`);
    return this.moves;
  }

  owner(): string {
    return notKept();
  }
  owners(): string[] {
    return notKept();
  }
  hashKey(): number {
    return notKept();
  }
  ownerOfHash(): string {
    return notKept();
  }
  withNodes(): Ring {
    return notKept();
  }
  withoutNodes(): Ring {
    return notKept();
  }
  toJSON(): never {
    return notKept();
  }
}

function notKept(): never {
  throw new Error('a DiffView keeps only the nodes and the diff of a ring');
}
