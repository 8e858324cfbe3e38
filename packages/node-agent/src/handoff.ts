import type { ConnectionRegistry } from './connections.js';
import type { Rebalancer } from './rebalancer.js';
import type { Registration } from './registration.js';
import type { Logger, MemberRecord } from './types.js';

export interface HandoffParts {
  self: string;
  registration: Registration;
  rebalancer: Rebalancer;
  registry: ConnectionRegistry;
  logger: Logger;
  settleMs: number;
  livenessTimeoutMs: number;
  /** The pacer's jitter: part of the time the handoff is expected to take. */
  jitterMs: number;
  /** The successor's accept rate when its record does not say. */
  defaultAcceptRate: number;
  /** Stop taking this node's users (send them to `successorUrl`) and stop converging: the handoff starts. */
  begin(successorUrl: string): void;
  /** Resolves once `ready()` holds after a topology change (or now), or after `ms`. */
  untilTopology(ready: () => boolean, ms: number): Promise<void>;
  /** Resolves when the last connection is gone, after `ms`, or when the process closes. */
  untilEmpty(ms: number): Promise<void>;
  /** Whether the process still hands off (it was not closed meanwhile). */
  handingOff(): boolean;
  /** The deadline came with users queued: their frames at once, each delayed to its slot (the drain's remainder). */
  spreadRemainder(): Promise<void>;
}

/**
 * Handoff deploy, the old process's side: give the successor the id's record (the ring keeps the node; only its
 * URL changes), then, once this process's ring names the successor's URL (so the topology inside the frames agrees),
 * queue every user here for this same node at that URL, paced at the successor's accept rate: the only sender to
 * it; nobody else moves. Stand-ins whose owner can take them go home instead (`Rebalancer.handoff`). Users left
 * at the deadline get their frames with delays. The caller closes the process afterwards; the record stays the
 * successor's. Returns the sessions held at the start and those left at the end.
 */
export async function handOff(parts: HandoffParts, successor: MemberRecord, deadlineMs: number): Promise<{ users: number; remaining: number }> {
  const { registry, rebalancer, logger, self } = parts;
  const users = registry.size;
  const acceptRate = successor.acceptRate ?? parts.defaultAcceptRate;
  parts.begin(successor.url);
  logger.info({ successor: successor.url, users, acceptRate, deadlineMs }, 'handing off to the successor');
  await parts.registration.handOver(successor);
  // Frames name the successor's URL once this agent's ring does (a settle window away), so the topology inside them agrees.
  await parts.untilTopology(() => rebalancer.topology.ring.nodes.find((n) => n.id === self)?.meta?.url === successor.url, parts.settleMs + parts.livenessTimeoutMs);
  rebalancer.handoff([...new Set([...registry.all()].map((c) => c.userId))], acceptRate, successor.url);
  if (registry.size > 0) {
    const expectedMs = rebalancer.estimateMs() + parts.jitterMs;
    logger.info({ expectedMs: Math.round(expectedMs), deadlineMs }, expectedMs > deadlineMs ? 'handoff deadline too short at the successor\'s accept rate: users left at it get delayed frames' : 'handoff sized');
    await parts.untilEmpty(deadlineMs);
  }
  const remaining = registry.size;
  if (remaining > 0 && parts.handingOff()) await parts.spreadRemainder();
  logger.info({ users, remaining }, 'handoff finished');
  return { users, remaining };
}
