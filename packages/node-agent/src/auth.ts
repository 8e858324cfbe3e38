import type { IncomingMessage } from 'node:http';
import { createLocalJWKSet, createRemoteJWKSet, importSPKI, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { systemClock, withClockDeadline, type Clock } from './clock.js';
import type { ConnectParams } from '@wsring/protocol';
import type { Authenticate } from './types.js';
import { AgentError } from './errors.js';

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

export interface JwtOptions {
  /** Shared secret for HS256 tokens. */
  secret?: string | Uint8Array;
  /** URL of a JWKS document (RS256, ES256, EdDSA...). */
  jwksUrl?: string;
  /** A local JWKS. */
  jwks?: JSONWebKeySet;
  /** A PEM public key (SPKI) and its algorithm. */
  publicKey?: { pem: string; algorithm: string };
  issuer?: string | string[];
  audience?: string | string[];
  /** Allowed clock skew in seconds. Default 5. */
  clockToleranceSec?: number;
}

/** The token a client presents: the `token` query parameter, else an `Authorization: Bearer` header. */
export function tokenOf(request: IncomingMessage, params: ConnectParams): string | undefined {
  if (params.token) return params.token;
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

/**
 * Verifies signed JWTs with `jose`; the user is the token's `sub`. Invalid, expired or missing
 * tokens make the agent close with UNAUTHORIZED.
 */
export function jwtAuthenticator(options: JwtOptions): Authenticate {
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: options.clockToleranceSec ?? 5,
  };
  const verifiers: ((token: string) => Promise<JWTPayload>)[] = [];
  if (options.secret !== undefined) {
    const secret = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
    verifiers.push(async (t) => (await jwtVerify(t, secret, verifyOptions)).payload);
  }
  if (options.jwksUrl) {
    const jwks = createRemoteJWKSet(new URL(options.jwksUrl));
    verifiers.push(async (t) => (await jwtVerify(t, jwks, verifyOptions)).payload);
  }
  if (options.jwks) {
    const jwks = createLocalJWKSet(options.jwks);
    verifiers.push(async (t) => (await jwtVerify(t, jwks, verifyOptions)).payload);
  }
  if (options.publicKey) {
    const key = importSPKI(options.publicKey.pem, options.publicKey.algorithm);
    key.catch(() => {}); // a bad key surfaces as unauthorized on use, not as an unhandled rejection
    verifiers.push(async (t) => (await jwtVerify(t, await key, { ...verifyOptions, algorithms: [options.publicKey!.algorithm] })).payload);
  }
  if (verifiers.length === 0) throw new AgentError('INVALID_OPTION', 'jwtAuthenticator needs secret, jwksUrl, jwks or publicKey');
  return async (request, params) => {
    const token = tokenOf(request, params);
    if (!token) return null;
    for (const verify of verifiers) {
      try {
        const payload = await verify(token);
        return typeof payload.sub === 'string' && payload.sub.length > 0 ? { userId: payload.sub } : null;
      } catch (err) {
        // A key set that cannot be fetched says nothing about the token: let the client retry.
        if (isKeySourceFailure(err)) throw new AuthUnavailableError('JWT key set unavailable', { cause: err });
        // Otherwise try the next key source; none verifying means unauthorized.
      }
    }
    return null;
  };
}

function isKeySourceFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (code === 'ERR_JWKS_TIMEOUT') return true;
  // jose's own errors carry an ERR_J* code; anything else (fetch failed, bad JSON from the key server) is the source.
  return !(typeof code === 'string' && code.startsWith('ERR_J'));
}

/** Development default: trusts the `user` query parameter. Never use in production. */
export const trustUserParam: Authenticate = (_request, params) => (params.user ? { userId: params.user } : null);
