import { DeliveryError } from './errors.js';

export interface DeliveryOptions {
  /** JetStream stream holding every user's messages. Default `WSRING_DELIVERY`. */
  stream?: string;
  /** Subject prefix of stored messages: `<prefix>.<base64url(userId)>`. Default `wsring.user`. */
  subjectPrefix?: string;
  /** Subject prefix the stream republishes stored messages to, for the live path. Default `wsring.live`. */
  livePrefix?: string;
  /** Retention window in time: messages older than this are gone from the replay store. Default 600000 (10 minutes). */
  maxAgeMs?: number;
  /** Retention window in size: the oldest messages are dropped beyond this many bytes. Default 1 GiB. */
  maxBytes?: number;
  /** Largest encoded message (JSON of the data), bytes. Default 65536. */
  maxMessageBytes?: number;
  /** How long a publish waits for JetStream's acknowledgement. Default 5000. */
  publishTimeoutMs?: number;
  /** Attempts of one publish when other publishers write to the same user concurrently (jittered backoff between). Default 20. */
  maxPublishAttempts?: number;
  /** Times one publish is sent again after its acknowledgement did not come in time (each resend can only fill the same slot, so none stores it twice). Default 3. */
  maxAckRetries?: number;
  /** Users whose last position a publisher remembers (saves a round trip per publish). Default 100000. */
  positionCacheSize?: number;
  /** Live messages buffered per connection while it replays; beyond this it replays again instead. Default 10000. */
  maxPendingPerConnection?: number;
  /** How often an idle connection's position is moved forward (`checkpoint` frame). Default: a quarter of maxAgeMs. */
  checkpointMs?: number;
  /** Replays a node runs at once (after a NATS restart every connection replays); the rest wait their turn. Default 64. */
  maxConcurrentReplays?: number;
  /** Messages of the user a replay reads per request once a backlog is longer than a few (through a short-lived consumer); 1: one get per message, no consumer. Default 256. */
  replayBatch?: number;
  /** Stream storage: `file` survives a NATS restart, `memory` does not. Default `file`. */
  storage?: 'file' | 'memory';
  /** Stream replicas in a NATS cluster (1-5; 3 on a 3-server cluster). Default 1 for a new stream; given, an existing stream is scaled to it or the agent refuses to start naming both counts. */
  replicas?: number;
}

export const DELIVERY_DEFAULTS = {
  stream: 'WSRING_DELIVERY',
  subjectPrefix: 'wsring.user',
  livePrefix: 'wsring.live',
  maxAgeMs: 600_000,
  maxBytes: 1024 ** 3,
  maxMessageBytes: 65_536,
  publishTimeoutMs: 5_000,
  maxPublishAttempts: 20,
  maxAckRetries: 3,
  positionCacheSize: 100_000,
  maxPendingPerConnection: 10_000,
  maxConcurrentReplays: 64,
  replayBatch: 256,
  storage: 'file',
  replicas: 1,
} as const satisfies Required<Omit<DeliveryOptions, 'checkpointMs'>>;

export type ResolvedDeliveryOptions = { -readonly [K in keyof DeliveryOptions]-?: NonNullable<DeliveryOptions[K]> };

const STREAM_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

function check(ok: boolean, message: string): void {
  if (!ok) throw new DeliveryError('INVALID_OPTION', message);
}

const count = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 1;

/** Fill in defaults; invalid values throw DeliveryError('INVALID_OPTION'). */
export function resolveDeliveryOptions(o: DeliveryOptions = {}): ResolvedDeliveryOptions {
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as DeliveryOptions;
  const maxAgeMs = given.maxAgeMs ?? DELIVERY_DEFAULTS.maxAgeMs;
  const r: ResolvedDeliveryOptions = { ...DELIVERY_DEFAULTS, checkpointMs: Math.floor(maxAgeMs / 4), ...given };
  check(STREAM_NAME.test(r.stream), `stream must be 1-255 of [A-Za-z0-9_-], got ${JSON.stringify(r.stream)}`);
  check(SUBJECT_PREFIX.test(r.subjectPrefix), `subjectPrefix must be dot-separated tokens of [A-Za-z0-9_-], got ${JSON.stringify(r.subjectPrefix)}`);
  check(SUBJECT_PREFIX.test(r.livePrefix), `livePrefix must be dot-separated tokens of [A-Za-z0-9_-], got ${JSON.stringify(r.livePrefix)}`);
  check(r.livePrefix !== r.subjectPrefix && !r.livePrefix.startsWith(`${r.subjectPrefix}.`), 'livePrefix must lie outside subjectPrefix (the stream would store its own republished messages)');
  check(count(r.maxAgeMs) && r.maxAgeMs >= 1_000, `maxAgeMs must be an integer >= 1000, got ${r.maxAgeMs}`);
  check(count(r.maxBytes), `maxBytes must be an integer >= 1, got ${r.maxBytes}`);
  check(count(r.maxMessageBytes) && r.maxMessageBytes <= r.maxBytes, `maxMessageBytes must be an integer between 1 and maxBytes, got ${r.maxMessageBytes}`);
  check(count(r.publishTimeoutMs), `publishTimeoutMs must be an integer >= 1, got ${r.publishTimeoutMs}`);
  check(count(r.maxPublishAttempts), `maxPublishAttempts must be an integer >= 1, got ${r.maxPublishAttempts}`);
  check(Number.isSafeInteger(r.maxAckRetries) && r.maxAckRetries >= 0, `maxAckRetries must be an integer >= 0, got ${r.maxAckRetries}`);
  check(count(r.positionCacheSize), `positionCacheSize must be an integer >= 1, got ${r.positionCacheSize}`);
  check(count(r.checkpointMs) && r.checkpointMs * 2 <= r.maxAgeMs, `checkpointMs must be an integer >= 1 and at most half of maxAgeMs, got ${r.checkpointMs}`);
  check(count(r.maxConcurrentReplays), `maxConcurrentReplays must be an integer >= 1, got ${r.maxConcurrentReplays}`);
  check(count(r.replayBatch) && r.replayBatch <= 10_000, `replayBatch must be an integer 1-10000, got ${r.replayBatch}`);
  check(count(r.maxPendingPerConnection), `maxPendingPerConnection must be an integer >= 1, got ${r.maxPendingPerConnection}`);
  check(r.storage === 'file' || r.storage === 'memory', `storage must be 'file' or 'memory', got ${JSON.stringify(r.storage)}`);
  check(count(r.replicas) && r.replicas <= 5, `replicas must be an integer 1-5, got ${r.replicas}`);
  return r;
}
