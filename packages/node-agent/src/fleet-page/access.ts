// Who may see the fleet page, its feed and the preview: an admin, and nobody else. An admin presents the admin
// token (compared in constant time) or a JWT whose role claim names the admin role, either as
// `Authorization: Bearer <credential>` or once through the login form, which hands the browser a session cookie
// (HttpOnly, SameSite=Strict, scoped to the page's path, 8 hours): an HMAC of its expiry, never the credential.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ASYMMETRIC_ALGORITHMS } from '../jwt-policy.js';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { AgentError } from '../errors.js';

export interface AdminJwtOptions {
  /** HS256 secret (the one client tokens are verified with, or another). */
  secret?: string;
  /** URL of a JWKS document. */
  jwksUrl?: string;
  jwks?: JSONWebKeySet;
  issuer?: string | string[];
  audience?: string | string[];
  /** The value of the role claim that makes an admin. Default `wsring-admin`. */
  role?: string;
  /** The claim holding the role: a string, or a list of strings. Default `role` (`roles` is read too). */
  claim?: string;
}

export interface AdminOptions {
  adminToken?: string;
  adminJwt?: AdminJwtOptions;
}

export const SESSION_COOKIE = 'wsring_fleet';
const SESSION_MS = 8 * 60 * 60 * 1000;
const MIN_TOKEN_LENGTH = 16;
/** Failed logins tolerated per minute, all sources together; beyond, 429 until the minute ends. */
const MAX_FAILURES_PER_MINUTE = 20;

const digest = (s: string | Buffer) => createHash('sha256').update(s).digest();

/** Equal strings, in time independent of where they differ (both are hashed first, so lengths leak nothing either). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Reject admin options that would be unsafe or unusable, before anything starts. */
export function checkAdminOptions(o: AdminOptions): void {
  if (o.adminToken !== undefined && (typeof o.adminToken !== 'string' || o.adminToken.length < MIN_TOKEN_LENGTH)) {
    throw new AgentError('INVALID_OPTION', `adminToken must be a string of at least ${MIN_TOKEN_LENGTH} characters (use 32+ random ones)`);
  }
  const j = o.adminJwt;
  if (j !== undefined && !j.secret && !j.jwksUrl && !j.jwks) throw new AgentError('INVALID_OPTION', 'adminJwt needs secret, jwksUrl or jwks to verify admin tokens with');
}

export class AdminAccess {
  private readonly key: Buffer;
  private readonly verifyJwt: ((token: string) => Promise<JWTPayload>) | undefined;
  private failures = 0;
  private failuresMinute = 0;

  private constructor(private readonly o: AdminOptions, private readonly now: () => number) {
    // Sessions are keyed by the admin token when there is one (they survive a restart, and rotating the token ends
    // them), else by a secret of this process.
    this.key = o.adminToken ? digest(`wsring-fleet-session\u0000${o.adminToken}`) : randomBytes(32);
    const j = o.adminJwt;
    if (j) {
      // Like client tokens (auth.ts): exp required, algorithms pinned (HS256 for the secret, asymmetric for key sets).
      const opts = { issuer: j.issuer, audience: j.audience, clockTolerance: 5, requiredClaims: ['exp'] };
      const keys = j.secret ? new TextEncoder().encode(j.secret) : undefined;
      const jwks = j.jwksUrl ? createRemoteJWKSet(new URL(j.jwksUrl)) : j.jwks ? createLocalJWKSet(j.jwks) : undefined;
      this.verifyJwt = async (t) => {
        if (keys) {
          try {
            return (await jwtVerify(t, keys, { ...opts, algorithms: ['HS256'] })).payload;
          } catch (err) {
            if (!jwks) throw err;
          }
        }
        return (await jwtVerify(t, jwks!, { ...opts, algorithms: [...ASYMMETRIC_ALGORITHMS] })).payload;
      };
    }
  }

  /** The page's gate, or undefined when no admin credential is configured (then the page does not exist). */
  static from(o: AdminOptions, now: () => number = Date.now): AdminAccess | undefined {
    checkAdminOptions(o);
    if (!o.adminToken && !o.adminJwt) return undefined;
    return new AdminAccess(o, now);
  }

  /** Whether a credential (the admin token, or a JWT with the admin role) makes an admin. */
  async isAdmin(credential: string): Promise<boolean> {
    if (credential.length === 0 || credential.length > 8_192) return false;
    if (this.o.adminToken !== undefined && sameSecret(credential, this.o.adminToken)) return true;
    if (!this.verifyJwt || credential.split('.').length !== 3) return false;
    try {
      const payload = await this.verifyJwt(credential);
      const role = this.o.adminJwt?.role ?? 'wsring-admin';
      const claims = [payload[this.o.adminJwt?.claim ?? 'role'], ...(this.o.adminJwt?.claim ? [] : [payload.roles])];
      return claims.some((c) => c === role || (Array.isArray(c) && c.includes(role)));
    } catch {
      return false;
    }
  }

  /** Whether the request comes from an admin: a bearer credential, or a valid session cookie. */
  async authorized(req: IncomingMessage): Promise<boolean> {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ')) return this.isAdmin(header.slice(7).trim());
    const session = cookie(req, SESSION_COOKIE);
    return session !== undefined && this.validSession(session);
  }

  /** A failed login counts; true when too many failed within the current minute. */
  throttled(failed: boolean): boolean {
    const minute = Math.floor(this.now() / 60_000);
    if (minute !== this.failuresMinute) {
      this.failuresMinute = minute;
      this.failures = 0;
    }
    if (failed) this.failures++;
    return this.failures > MAX_FAILURES_PER_MINUTE;
  }

  /** `Set-Cookie` for a new session, valid on `path` and below. */
  sessionCookie(req: IncomingMessage, path: string): string {
    const expires = this.now() + SESSION_MS;
    return `${SESSION_COOKIE}=${expires}.${this.mac(expires)}; Path=${path}; Max-Age=${SESSION_MS / 1000}; HttpOnly; SameSite=Strict${secure(req) ? '; Secure' : ''}`;
  }

  clearCookie(req: IncomingMessage, path: string): string {
    return `${SESSION_COOKIE}=; Path=${path}; Max-Age=0; HttpOnly; SameSite=Strict${secure(req) ? '; Secure' : ''}`;
  }

  private validSession(value: string): boolean {
    const m = /^(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!m) return false;
    const expires = Number(m[1]);
    if (!(expires > this.now()) || expires > this.now() + SESSION_MS) return false;
    return timingSafeEqual(Buffer.from(m[2]), Buffer.from(this.mac(expires)));
  }

  private mac(expires: number): string {
    return createHmac('sha256', this.key).update(`session:${expires}`).digest('base64url');
  }
}

function secure(req: IncomingMessage): boolean {
  return Boolean((req.socket as { encrypted?: boolean }).encrypted) || req.headers['x-forwarded-proto'] === 'https';
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}
