import type { MemberRecord, StoredTopology } from '../types.js';
import { NODE_ID_PATTERN, RECORD_LIMITS } from '../options.js';

/** KV key of a member's record. Node ids are valid KV key tokens by construction (see NODE_ID_PATTERN). */
export const memberKey = (id: string): string => `members.${id}`;
export const MEMBER_PREFIX = 'members.';
/** KV key of the record of a node's successor (handoff deploys): placement never reads these. */
export const successorKey = (id: string): string => `successors.${id}`;
/** KV key of the fleet's epoch label. */
export const TOPOLOGY_KEY = 'topology';

const STATES = new Set(['joining', 'active', 'draining']);

const isWsUrl = (x: string): boolean => {
  try {
    return /^wss?:$/.test(new URL(x).protocol);
  } catch {
    return false;
  }
};

/** Validate a record read from the store; a malformed one is ignored rather than trusted. */
export function parseMemberRecord(value: unknown): MemberRecord | null {
  if (value === null || typeof value !== 'object') return null;
  const r = value as Record<string, unknown>;
  if (typeof r.id !== 'string' || !NODE_ID_PATTERN.test(r.id)) return null;
  if (typeof r.url !== 'string' || r.url.length > 2_048 || !isWsUrl(r.url)) return null;
  if (typeof r.weight !== 'number' || !Number.isFinite(r.weight) || r.weight <= 0 || r.weight > RECORD_LIMITS.maxWeight) return null;
  if (typeof r.state !== 'string' || !STATES.has(r.state)) return null;
  const acceptRate = r.acceptRate;
  if (acceptRate !== undefined && (typeof acceptRate !== 'number' || !Number.isFinite(acceptRate) || acceptRate <= 0 || acceptRate > RECORD_LIMITS.maxAcceptRate)) return null;
  const count = (x: unknown) => x === undefined || (Number.isSafeInteger(x) && (x as number) >= 0);
  if (!count(r.connections) || !count(r.capacity)) return null;
  if (r.holdMs !== undefined && (!count(r.holdMs) || (r.holdMs as number) > RECORD_LIMITS.maxHoldMs)) return null;
  return {
    id: r.id,
    url: r.url,
    weight: r.weight,
    state: r.state as MemberRecord['state'],
    startedAt: typeof r.startedAt === 'number' ? r.startedAt : 0,
    seq: typeof r.seq === 'number' ? r.seq : 0,
    ...(acceptRate === undefined ? {} : { acceptRate }),
    ...(r.holdMs === undefined ? {} : { holdMs: r.holdMs as number }),
    ...(r.connections === undefined ? {} : { connections: r.connections as number }),
    ...(r.capacity === undefined ? {} : { capacity: r.capacity as number }),
  };
}

export function parseStoredTopology(value: unknown): StoredTopology | null {
  if (value === null || typeof value !== 'object') return null;
  const t = value as Record<string, unknown>;
  if (!Number.isInteger(t.epoch) || (t.epoch as number) < 0 || (t.epoch as number) > RECORD_LIMITS.maxEpoch || typeof t.fingerprint !== 'string' || t.fingerprint.length > 128) return null;
  return { epoch: t.epoch as number, fingerprint: t.fingerprint };
}
