// How long the fleet keeps a node that restarts in place in the ring. The old process writes its record once more
// with holdMs = backInMs + spread + livenessTimeoutMs (restartInPlace), spread = ceil(users x 1000 / acceptRate) (its
// restartSlots), and every agent keeps the member that long after the record arrived (MemberTable.expire). A record
// asking for more than RECORD_LIMITS.maxHoldMs is refused by every reader (readMemberRecord): the member then times
// out like any other, livenessTimeoutMs after its last heartbeat, which the model takes as the restart itself.
// Past the hold, if no new process serves, the ring drops the node and its users fail over as after a crash.
import { DEFAULTS as AGENT } from '@wsring/node-agent';
import { RECORD_LIMITS } from '@wsring/node-agent/internal';

/** The hold the old process asks for when it restarts `users` users at `acceptRate` a second, `backInMs` on. */
export function requestedHoldMs(users: number, acceptRate: number, backInMs: number): number {
  return backInMs + Math.ceil((users * 1000) / acceptRate) + AGENT.livenessTimeoutMs;
}

/** How long after the restart the fleet keeps the node in the ring without a process serving it. */
export function restartHoldMs(users: number, acceptRate: number, backInMs: number): number {
  const asked = requestedHoldMs(users, acceptRate, backInMs);
  return asked <= RECORD_LIMITS.maxHoldMs ? asked : AGENT.livenessTimeoutMs;
}
