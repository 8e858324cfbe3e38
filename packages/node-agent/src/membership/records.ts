import type { MemberRecord, StoredTopology } from '../types.js';
import { NODE_ID_PATTERN, RECORD_LIMITS } from '../options.js';

/** KV key of a member's record. Node ids are valid KV key tokens by construction (see NODE_ID_PATTERN). */
export const memberKey = (id: string): string => `members.${id}`;
export const MEMBER_PREFIX = 'members.';
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

/** Why a membership record was not used: the field it failed on, or `not-an-object` / `not-json` / `key-mismatch`. */
export type RecordRejection = { ok: false; reason: string };
export type RecordReading = { ok: true; record: MemberRecord } | RecordRejection;

const reject = (reason: string): RecordRejection => ({ ok: false, reason });
const count = (x: unknown) => x === undefined || (Number.isSafeInteger(x) && (x as number) >= 0);
// startedAt and seq are readings and counters: finite, never negative, within what a double holds exactly.
const reading = (x: unknown) => x === undefined || (typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= Number.MAX_SAFE_INTEGER);

/**
 * Validate a record read from the store, as untrusted input: any value gives a record whose every field is within
 * the documented bounds (id in NODE_ID_PATTERN, a ws/wss URL, weight, accept rate and hold bounded by RECORD_LIMITS,
 * counts non-negative integers), or the reason it was refused. Never throws.
 */
export function readMemberRecord(value: unknown): RecordReading {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return reject('not-an-object');
  const r = value as Record<string, unknown>;
  if (typeof r.id !== 'string' || !NODE_ID_PATTERN.test(r.id)) return reject('id');
  if (typeof r.url !== 'string' || r.url.length > 2_048 || !isWsUrl(r.url)) return reject('url');
  if (typeof r.weight !== 'number' || !Number.isFinite(r.weight) || r.weight <= 0 || r.weight > RECORD_LIMITS.maxWeight) return reject('weight');
  if (typeof r.state !== 'string' || !STATES.has(r.state)) return reject('state');
  const acceptRate = r.acceptRate;
  if (acceptRate !== undefined && (typeof acceptRate !== 'number' || !Number.isFinite(acceptRate) || acceptRate <= 0 || acceptRate > RECORD_LIMITS.maxAcceptRate)) return reject('acceptRate');
  if (!count(r.connections) || !count(r.capacity)) return reject('load');
  if (r.holdMs !== undefined && (!count(r.holdMs) || (r.holdMs as number) > RECORD_LIMITS.maxHoldMs)) return reject('holdMs');
  if (!reading(r.startedAt)) return reject('startedAt');
  if (!reading(r.seq)) return reject('seq');
  return {
    ok: true,
    record: {
      id: r.id,
      url: r.url,
      weight: r.weight,
      state: r.state as MemberRecord['state'],
      startedAt: (r.startedAt as number | undefined) ?? 0,
      seq: (r.seq as number | undefined) ?? 0,
      ...(acceptRate === undefined ? {} : { acceptRate }),
      ...(r.holdMs === undefined ? {} : { holdMs: r.holdMs as number }),
      ...(r.connections === undefined ? {} : { connections: r.connections as number }),
      ...(r.capacity === undefined ? {} : { capacity: r.capacity as number }),
    },
  };
}

/** A valid record, or null for anything else (see readMemberRecord for why). */
export function parseMemberRecord(value: unknown): MemberRecord | null {
  const read = readMemberRecord(value);
  return read.ok ? read.record : null;
}

export function parseStoredTopology(value: unknown): StoredTopology | null {
  if (value === null || typeof value !== 'object') return null;
  const t = value as Record<string, unknown>;
  if (!Number.isInteger(t.epoch) || (t.epoch as number) < 0 || (t.epoch as number) > RECORD_LIMITS.maxEpoch || typeof t.fingerprint !== 'string' || t.fingerprint.length > 128) return null;
  return { epoch: t.epoch as number, fingerprint: t.fingerprint };
}
