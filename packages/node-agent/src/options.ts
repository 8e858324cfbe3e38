import { AgentError } from './errors.js';
import type { AgentOptions, MessageRateOptions, PacingOptions } from './types.js';
import { CATCH_UP_MS } from './admission-gate.js';

/** Every limit and timeout the agent has, with its default. docs and README list the same numbers. */
export const DEFAULTS = {
  weight: 1,
  port: 0,
  host: '0.0.0.0',
  // Node's default of 511 drops SYNs when a wave of moved clients arrives on a busy node; each drop costs
  // the client a one-second SYN retransmit. The kernel caps it at net.core.somaxconn.
  listenBacklog: 4096,
  path: '/ws',
  httpPrefix: '',
  capacity: 10_000,
  // A browser user with many tabs open on the app (each tab its own socket), plus a phone or two: rarely above a
  // dozen. The limit stops a runaway script of one user from taking a node's capacity; closing the oldest keeps
  // the tabs a user is looking at.
  maxSessionsPerUser: 16,
  // Measured: one node on 2 cores completes 2,700-3,200 WebSocket handshakes/s while serving; a third of that
  // leaves room for its own traffic. At it, a node at default capacity drains to one receiver in 10 s, within the
  // default 30 s deadline.
  acceptRate: 1_000,
  // Longest an authenticated socket waits at its node's admission gate (accept rate, burst of 50 ms) before it is
  // let through anyway: half the clients' 10 s connect timeout, so waiting never turns into a failover.
  admissionWaitMs: 5_000,
  // A new process declares a fifth of its accept rate when it begins serving, the whole 5 s later (warmup.ts).
  warmupMs: 5_000,
  // The sender's bucket: `senderBurst(ratePerSec)` when not given, 250 at the default ceiling (see there).
  pacing: { ratePerSec: 1_000, burst: 250, jitterMs: 250, graceMs: 5_000 } satisfies Required<PacingOptions>,
  settleMs: 1_000,
  heartbeatMs: 1_000,
  // Above JetStream's leader election (4.1-4.4 s measured on nats-server 2.9.10), with room to spare: an election
  // also freezes liveness (see MemberTable), this is the second line of defence.
  livenessTimeoutMs: 10_000,
  restartWindowMs: 250,
  convergeAfterMs: 30_000,
  maxPayload: 65_536,
  messageRate: { perSec: 50, burst: 100 } satisfies Required<MessageRateOptions>,
  maxUnreachable: 8,
  drainDeadlineMs: 30_000,
  restartBackInMs: 10_000,
  startTimeoutMs: 15_000,
  authTimeoutMs: 10_000,
  // A replay per resume: a client needs one per gap it sees, not a stream of them.
  resumeRate: { perSec: 1, burst: 5 } satisfies Required<MessageRateOptions>,
  // A TCP connection that has sent no complete request or upgrade by then is dropped (slow or silent peers hold descriptors).
  handshakeTimeoutMs: 10_000,
  // Open TCP connections from one address; more are dropped at accept. Clients behind one NAT share an address.
  maxConnectionsPerAddress: 5_000,
  // Members a node keeps in its table; records of further ids are ignored (a flood of records cannot stall it).
  maxMembers: 1_000,
  bucket: 'wsring',
} as const;

export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Bounds on what a membership record may claim: a weight or accept rate past them would let one record freeze or flood the fleet. */
export const RECORD_LIMITS = { maxWeight: 1_000, maxAcceptRate: 1_000_000, maxEpoch: 2 ** 48, maxHoldMs: 600_000 } as const;

export interface ResolvedOptions {
  id: string;
  weight: number;
  host: string;
  port: number;
  listenBacklog: number;
  path: string;
  httpPrefix: string;
  serveHttp: boolean;
  capacity: number;
  maxSessionsPerUser: number;
  acceptRate: number;
  admissionWaitMs: number;
  warmupMs: number;
  pacing: Required<PacingOptions>;
  settleMs: number;
  heartbeatMs: number;
  livenessTimeoutMs: number;
  restartWindowMs: number;
  convergeAfterMs: number;
  maxPayload: number;
  messageRate: Required<MessageRateOptions>;
  maxUnreachable: number;
  drainDeadlineMs: number;
  restartBackInMs: number;
  startTimeoutMs: number;
  authTimeoutMs: number;
  resumeRate: Required<MessageRateOptions>;
  handshakeTimeoutMs: number;
  maxConnectionsPerAddress: number;
  maxMembers: number;
  allowedOrigins: string[] | undefined;
  followUnsignedPeers: boolean;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new AgentError('INVALID_OPTION', message);
}

const positive = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;
const nonNegative = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
const isWsUrl = (x: unknown): boolean => {
  try {
    return typeof x === 'string' && /^wss?:$/.test(new URL(x).protocol);
  } catch {
    return false;
  }
};
/** `ws(s)://host[:port]` of a ws/wss URL (default ports dropped, host lower-cased), or '' for anything else. */
export function originOf(url: string): string {
  try {
    const u = new URL(url);
    return /^wss?:$/.test(u.protocol) ? `${u.protocol}//${u.host}` : '';
  } catch {
    return '';
  }
}
const count = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 1;

/**
 * A sender's bucket depth when none is given: CATCH_UP_MS (250 ms) of its ceiling, as the admission gate keeps, at
 * least one. A sender busy closing sockets comes round to its timer tens to hundreds of ms late; a bucket 20 deep
 * lost what it earned meanwhile (movement bench: a drain ran at 75% of its 1,000/s ceiling). Receivers stay bounded
 * by their lanes (50 ms of each share) and their own gates; the sender itself sends at most ratePerSec + burst
 * frames in any second (its bucket starts full).
 */
export const senderBurst = (ratePerSec: number): number => Math.max(1, Math.ceil((ratePerSec * CATCH_UP_MS) / 1000));

/** Fill in defaults and reject invalid values with AgentError('INVALID_OPTION'). */
export function resolveOptions(o: AgentOptions): ResolvedOptions {
  check(typeof o.id === 'string' && NODE_ID_PATTERN.test(o.id), `id must be 1-64 of [A-Za-z0-9_-], got ${JSON.stringify(o.id)}`);
  const pacing = { ...DEFAULTS.pacing, ...o.pacing };
  pacing.burst = o.pacing?.burst ?? senderBurst(pacing.ratePerSec);
  const messageRate = { ...DEFAULTS.messageRate, ...o.messageRate };
  const r: ResolvedOptions = {
    id: o.id,
    weight: o.weight ?? DEFAULTS.weight,
    host: o.host ?? DEFAULTS.host,
    port: o.port ?? DEFAULTS.port,
    listenBacklog: o.listenBacklog ?? DEFAULTS.listenBacklog,
    path: o.path ?? DEFAULTS.path,
    httpPrefix: o.httpPrefix ?? DEFAULTS.httpPrefix,
    serveHttp: o.serveHttp ?? true,
    capacity: o.capacity ?? DEFAULTS.capacity,
    maxSessionsPerUser: o.maxSessionsPerUser ?? DEFAULTS.maxSessionsPerUser,
    acceptRate: o.acceptRate ?? DEFAULTS.acceptRate,
    admissionWaitMs: o.admissionWaitMs ?? DEFAULTS.admissionWaitMs,
    warmupMs: o.warmupMs ?? DEFAULTS.warmupMs,
    pacing,
    settleMs: o.settleMs ?? DEFAULTS.settleMs,
    heartbeatMs: o.heartbeatMs ?? DEFAULTS.heartbeatMs,
    livenessTimeoutMs: o.livenessTimeoutMs ?? DEFAULTS.livenessTimeoutMs,
    restartWindowMs: o.restartWindowMs ?? DEFAULTS.restartWindowMs,
    convergeAfterMs: o.convergeAfterMs ?? DEFAULTS.convergeAfterMs,
    maxPayload: o.maxPayload ?? DEFAULTS.maxPayload,
    messageRate,
    maxUnreachable: o.maxUnreachable ?? DEFAULTS.maxUnreachable,
    drainDeadlineMs: o.drainDeadlineMs ?? DEFAULTS.drainDeadlineMs,
    restartBackInMs: o.restartBackInMs ?? DEFAULTS.restartBackInMs,
    startTimeoutMs: o.startTimeoutMs ?? DEFAULTS.startTimeoutMs,
    authTimeoutMs: o.authTimeoutMs ?? DEFAULTS.authTimeoutMs,
    resumeRate: { ...DEFAULTS.resumeRate, ...o.resumeRate },
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
    maxConnectionsPerAddress: o.maxConnectionsPerAddress ?? DEFAULTS.maxConnectionsPerAddress,
    maxMembers: o.maxMembers ?? DEFAULTS.maxMembers,
    allowedOrigins: o.allowedOrigins?.map(originOf),
    followUnsignedPeers: o.followUnsignedPeers ?? false,
  };
  check(positive(r.weight), `weight must be a finite number > 0, got ${r.weight}`);
  check(Number.isInteger(r.port) && r.port >= 0 && r.port <= 65535, `port must be 0-65535, got ${r.port}`);
  check(count(r.listenBacklog), `listenBacklog must be an integer >= 1, got ${r.listenBacklog}`);
  check(r.path.startsWith('/'), `path must start with '/', got ${JSON.stringify(r.path)}`);
  check(count(r.capacity), `capacity must be an integer >= 1, got ${r.capacity}`);
  check(count(r.maxSessionsPerUser), `maxSessionsPerUser must be an integer >= 1, got ${r.maxSessionsPerUser}`);
  check(positive(r.acceptRate) && r.acceptRate <= RECORD_LIMITS.maxAcceptRate, `acceptRate must be > 0 and <= ${RECORD_LIMITS.maxAcceptRate}, got ${r.acceptRate}`);
  check(r.weight <= RECORD_LIMITS.maxWeight, `weight must be <= ${RECORD_LIMITS.maxWeight}, got ${r.weight}`);
  check(positive(pacing.ratePerSec), `pacing.ratePerSec must be > 0, got ${pacing.ratePerSec}`);
  check(count(pacing.burst), `pacing.burst must be an integer >= 1, got ${pacing.burst}`);
  check(nonNegative(pacing.jitterMs), `pacing.jitterMs must be >= 0, got ${pacing.jitterMs}`);
  check(nonNegative(pacing.graceMs), `pacing.graceMs must be >= 0, got ${pacing.graceMs}`);
  check(nonNegative(r.warmupMs) && r.warmupMs <= 600_000, `warmupMs must be 0-600000, got ${r.warmupMs}`);
  check(nonNegative(r.admissionWaitMs), `admissionWaitMs must be >= 0, got ${r.admissionWaitMs}`);
  check(nonNegative(r.settleMs), `settleMs must be >= 0, got ${r.settleMs}`);
  check(positive(r.heartbeatMs), `heartbeatMs must be > 0, got ${r.heartbeatMs}`);
  // One missed heartbeat must never look like a departure.
  check(positive(r.livenessTimeoutMs) && r.livenessTimeoutMs >= 2 * r.heartbeatMs, `livenessTimeoutMs must be >= 2 * heartbeatMs (${2 * r.heartbeatMs}), got ${r.livenessTimeoutMs}`);
  check(positive(r.convergeAfterMs), `convergeAfterMs must be > 0, got ${r.convergeAfterMs}`);
  check(nonNegative(r.restartWindowMs), `restartWindowMs must be >= 0, got ${r.restartWindowMs}`);
  check(count(r.maxPayload), `maxPayload must be an integer >= 1, got ${r.maxPayload}`);
  check(positive(messageRate.perSec), `messageRate.perSec must be > 0, got ${messageRate.perSec}`);
  check(count(messageRate.burst), `messageRate.burst must be an integer >= 1, got ${messageRate.burst}`);
  check(count(r.maxUnreachable), `maxUnreachable must be an integer >= 1, got ${r.maxUnreachable}`);
  check(nonNegative(r.restartBackInMs) && r.restartBackInMs <= RECORD_LIMITS.maxHoldMs / 2, `restartBackInMs must be 0-${RECORD_LIMITS.maxHoldMs / 2}, got ${r.restartBackInMs}`);
  check(nonNegative(r.drainDeadlineMs), `drainDeadlineMs must be >= 0, got ${r.drainDeadlineMs}`);
  check(positive(r.startTimeoutMs), `startTimeoutMs must be > 0, got ${r.startTimeoutMs}`);
  check(positive(r.authTimeoutMs), `authTimeoutMs must be > 0, got ${r.authTimeoutMs}`);
  check(positive(r.resumeRate.perSec), `resumeRate.perSec must be > 0, got ${r.resumeRate.perSec}`);
  check(count(r.resumeRate.burst), `resumeRate.burst must be an integer >= 1, got ${r.resumeRate.burst}`);
  check(positive(r.handshakeTimeoutMs), `handshakeTimeoutMs must be > 0, got ${r.handshakeTimeoutMs}`);
  check(count(r.maxConnectionsPerAddress), `maxConnectionsPerAddress must be an integer >= 1, got ${r.maxConnectionsPerAddress}`);
  check(count(r.maxMembers), `maxMembers must be an integer >= 1, got ${r.maxMembers}`);
  if (r.allowedOrigins) {
    for (const [i, origin] of r.allowedOrigins.entries()) check(origin !== '', `allowedOrigins must be ws:// or wss:// origins (scheme://host[:port]), got ${JSON.stringify(o.allowedOrigins?.[i])}`);
  }
  if (o.url !== undefined) check(isWsUrl(o.url), `url must be a ws:// or wss:// URL, got ${JSON.stringify(o.url)}`);
  if (o.url !== undefined && r.allowedOrigins) check(r.allowedOrigins.includes(originOf(o.url)), `url ${o.url} is outside allowedOrigins (${r.allowedOrigins.join(', ')})`);
  return r;
}
