import type { IncomingMessage } from 'node:http';
import { createLocalJWKSet, createRemoteJWKSet, importSPKI, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { systemClock, withClockDeadline, type Clock } from './clock.js';
import type { ConnectParams } from '@wsring/protocol';
import type { AuthIdentity, Authenticate } from './types.js';
import { AgentError } from './errors.js';
import { ASYMMETRIC_ALGORITHMS, MIN_HS256_SECRET_BYTES } from './jwt-policy.js';

export { ASYMMETRIC_ALGORITHMS, MIN_HS256_SECRET_BYTES };

/**
 * Thrown by an `authenticate` that cannot decide right now (a key server down, a timeout). The agent
 * then closes with INTERNAL_ERROR, which clients retry, instead of the terminal UNAUTHORIZED.
 */
export class AuthUnavailableError extends Error {
  /** Like the other errors of the agent: what went wrong, as a code to branch on. */
  readonly code = 'AUTH_UNAVAILABLE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthUnavailableError';
  }
}

/** `authenticate` bounded in time: no answer within `timeoutMs` is an AuthUnavailableError. */
export function withAuthTimeout(authenticate: Authenticate, timeoutMs: number, clock: Clock = systemClock): Authenticate {
  return (request, params) =>
    withClockDeadline(clock, Promise.resolve(authenticate(request, params)), timeoutMs, () => new AuthUnavailableError(`authentication did not answer within ${timeoutMs} ms`));
}

/**
 * Thrown by an `authenticate` that refuses a credential, naming why (`expired`, `bad-signature`, `claim-iss`...). The
 * agent closes with UNAUTHORIZED like for null, and logs and counts the reason (never the token).
 */
export class AuthRejectedError extends Error {
  readonly code = 'AUTH_REJECTED' as const;
  constructor(readonly reason: string, message = `token rejected: ${reason}`) {
    super(message);
    this.name = 'AuthRejectedError';
  }
}


export interface JwtOptions {
  /** Shared secret for HS256 tokens, at least MIN_HS256_SECRET_BYTES (32) bytes. */
  secret?: string | Uint8Array;
  /** URL of a JWKS document (RS256, ES256, EdDSA...). */
  jwksUrl?: string;
  /** A local JWKS. */
  jwks?: JSONWebKeySet;
  /** A PEM public key (SPKI) and its algorithm. */
  publicKey?: { pem: string; algorithm: string };
  /** Required `iss`: tokens of any other issuer are refused. */
  issuer?: string | string[];
  /** Required `aud`: tokens for any other audience are refused. */
  audience?: string | string[];
  /** Algorithms accepted for key sets (jwks, jwksUrl). Default: the asymmetric ones (ASYMMETRIC_ALGORITHMS). The secret always means HS256 only, a public key its own algorithm. */
  algorithms?: string[];
  /** Refuse tokens without `exp` (they would be valid forever). Default true. */
  requireExp?: boolean;
  /** Allowed clock skew in seconds, for `exp`, `nbf` and `iat` (an `iat` further ahead is refused). Default 5. */
  clockToleranceSec?: number;
  /** The time tokens are checked against. Default: real time. */
  clock?: Clock;
}

/** The token a client presents: the `token` query parameter, else an `Authorization: Bearer` header. */
export function tokenOf(request: IncomingMessage, params: ConnectParams): string | undefined {
  if (params.token) return params.token;
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

/** Why jose refused a token, as a short reason for logs and metrics. */
function rejectionReason(err: unknown): string {
  const e = err as { code?: unknown; claim?: unknown };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return typeof e.claim === 'string' ? `claim-${e.claim}` : 'claims';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad-signature';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'algorithm';
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'unknown-key';
    default:
      return 'malformed';
  }
}

/**
 * Verifies signed JWTs with `jose`; the user is the token's `sub`, the connection lasts until its `exp`. Refused
 * (AuthRejectedError, the agent closes UNAUTHORIZED): no token, a bad signature, an algorithm not pinned, no `exp`
 * (unless `requireExp: false`), expired, `nbf` or `iat` in the future, another issuer or audience, no `sub`.
 */
export function jwtAuthenticator(options: JwtOptions): Authenticate {
  const clock = options.clock ?? systemClock;
  const toleranceSec = options.clockToleranceSec ?? 5;
  if (!Number.isFinite(toleranceSec) || toleranceSec < 0) throw new AgentError('INVALID_OPTION', `clockToleranceSec must be >= 0, got ${toleranceSec}`);
  const base = {
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: toleranceSec,
    requiredClaims: options.requireExp === false ? [] : ['exp'],
  };
  const at = () => ({ ...base, currentDate: new Date(clock.now()) });
  const verifiers: ((token: string) => Promise<JWTPayload>)[] = [];
  if (options.secret !== undefined) {
    const secret = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
    if (secret.byteLength < MIN_HS256_SECRET_BYTES) {
      throw new AgentError('INVALID_OPTION', `the HS256 secret must be at least ${MIN_HS256_SECRET_BYTES} bytes (got ${secret.byteLength}): use 32+ random bytes`);
    }
    verifiers.push(async (t) => (await jwtVerify(t, secret, { ...at(), algorithms: ['HS256'] })).payload);
  }
  const keySetAlgorithms = options.algorithms ?? [...ASYMMETRIC_ALGORITHMS];
  if (keySetAlgorithms.length === 0 || keySetAlgorithms.some((a) => a === 'none' || a.startsWith('HS'))) {
    throw new AgentError('INVALID_OPTION', `algorithms must list asymmetric JWS algorithms (${ASYMMETRIC_ALGORITHMS.join(', ')}), got ${JSON.stringify(options.algorithms)}`);
  }
  if (options.jwksUrl) {
    const jwks = createRemoteJWKSet(new URL(options.jwksUrl));
    verifiers.push(async (t) => (await jwtVerify(t, jwks, { ...at(), algorithms: keySetAlgorithms })).payload);
  }
  if (options.jwks) {
    const jwks = createLocalJWKSet(options.jwks);
    verifiers.push(async (t) => (await jwtVerify(t, jwks, { ...at(), algorithms: keySetAlgorithms })).payload);
  }
  if (options.publicKey) {
    const key = importSPKI(options.publicKey.pem, options.publicKey.algorithm);
    key.catch(() => {}); // a bad key surfaces as unauthorized on use, not as an unhandled rejection
    verifiers.push(async (t) => (await jwtVerify(t, await key, { ...at(), algorithms: [options.publicKey!.algorithm] })).payload);
  }
  if (verifiers.length === 0) throw new AgentError('INVALID_OPTION', 'jwtAuthenticator needs secret, jwksUrl, jwks or publicKey');
  return async (request, params): Promise<AuthIdentity> => {
    const token = tokenOf(request, params);
    if (!token) throw new AuthRejectedError('missing-token');
    let reason = 'malformed';
    for (const verify of verifiers) {
      let payload: JWTPayload;
      try {
        payload = await verify(token);
      } catch (err) {
        // A key set that cannot be fetched says nothing about the token: let the client retry.
        if (isKeySourceFailure(err)) throw new AuthUnavailableError('JWT key set unavailable', { cause: err });
        // Otherwise try the next key source; none verifying means unauthorized.
        reason = rejectionReason(err);
        continue;
      }
      // jose checks `iat` only against a maximum age: a token issued in the future is refused here.
      if (typeof payload.iat === 'number' && payload.iat * 1000 > clock.now() + toleranceSec * 1000) throw new AuthRejectedError('claim-iat');
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new AuthRejectedError('claim-sub');
      return typeof payload.exp === 'number' ? { userId: payload.sub, expiresAt: payload.exp * 1000 } : { userId: payload.sub };
    }
    throw new AuthRejectedError(reason);
  };
}

function isKeySourceFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (code === 'ERR_JWKS_TIMEOUT') return true;
  // jose's own errors carry an ERR_J* code; anything else (fetch failed, bad JSON from the key server) is the source.
  return !(typeof code === 'string' && code.startsWith('ERR_J'));
}

/** Development only (`--insecure`): trusts the `user` query parameter, so anyone can be anyone. */
export const trustUserParam: Authenticate = (_request, params) => (params.user ? { userId: params.user } : null);
