import { CloseCode, MAX_RESTART_DELAY_MS } from '@wsring/protocol';
import type { ClientConnection, ConnectionRegistry } from './connections.js';
import type { AgentMetrics } from './metrics.js';
import type { Registration } from './registration.js';
import { closeWith } from './transport.js';
import type { Logger } from './types.js';

/**
 * When each user comes back after a restart in place, ms from the restart: one slot per user, shared by all its
 * sessions (the accept rate counts users, as the pacer's moves do), the k-th user (from 0, in the order its first
 * session appears) at `backInMs + floor(k x 1000 / acceptRate)`. `spreadMs`: how long the slots span,
 * `ceil(users x 1000 / acceptRate)`.
 */
export function restartSlots(conns: Iterable<ClientConnection>, acceptRate: number, backInMs: number): { slots: Map<string, number>; users: number; spreadMs: number } {
  const slots = new Map<string, number>();
  for (const conn of conns) if (!slots.has(conn.userId)) slots.set(conn.userId, backInMs + Math.floor((slots.size * 1000) / acceptRate));
  return { slots, users: slots.size, spreadMs: Math.ceil((slots.size * 1000) / acceptRate) };
}

export interface RestartParts {
  registry: ConnectionRegistry;
  registration: Registration;
  /** This node's accept rate: the next process is the receiver of its users. */
  acceptRate: number;
  livenessTimeoutMs: number;
  logger: Logger;
  metrics?: AgentMetrics;
  /** Stop serving: no more placement work, timers or membership events (the agent's own shutdown, short of its sockets). */
  stop(): void;
}

/**
 * Restart in place, the old process's side: ask the fleet to hold this node (`backInMs` + the slots' spread + a
 * liveness timeout), stop, and tell every user to come back to this same node at its slot (a `restart` frame,
 * then `4005 RESTARTING`). Returns the users, the slots' spread and the connections closed (whose close
 * handshakes the caller may wait for). No timers: the clients wait their slots.
 */
export async function restartInPlace(parts: RestartParts, backInMs: number): Promise<{ users: number; spreadMs: number; closed: ClientConnection[] }> {
  const conns = [...parts.registry.all()];
  const { slots, users, spreadMs } = restartSlots(conns, parts.acceptRate, backInMs);
  parts.logger.info({ users, sessions: conns.length, backInMs, spreadMs }, 'restarting in place');
  if (backInMs + spreadMs > MAX_RESTART_DELAY_MS) {
    // Clients cap a retry hint at MAX_RESTART_DELAY_MS: every user whose slot lies past it comes back at that instant.
    const together = [...slots.values()].filter((ms) => ms >= MAX_RESTART_DELAY_MS).length;
    parts.logger.warn(
      { users, backInMs, spreadMs, maxDelayMs: MAX_RESTART_DELAY_MS, together },
      'restart in place: too many users to spread within the longest retry hint clients honour; those past it arrive together (a handoff or a drain paces any number)',
    );
  }
  await parts.registration.hold(backInMs + spreadMs + parts.livenessTimeoutMs).catch((err) =>
    parts.logger.warn({ err: String(err) }, 'could not ask the fleet to hold this node: past the liveness timeout its users fail over'),
  );
  parts.stop();
  for (const conn of conns) {
    conn.sendFrame({ type: 'restart', retryAfterMs: slots.get(conn.userId) as number });
    closeWith(conn.socket, CloseCode.RESTARTING, 'restarting in place', parts.metrics);
  }
  return { users, spreadMs, closed: conns };
}
