// What the agent accepts of JWTs, for client tokens (auth.ts) and admin tokens (fleet-page/access.ts) alike.

/** Algorithms accepted for tokens verified with public keys (JWKS) unless configured otherwise: asymmetric only, never `none` or HS*. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** Shortest HS256 secret accepted, in bytes: the algorithm's key size (RFC 7518, 3.2). */
export const MIN_HS256_SECRET_BYTES = 32;
