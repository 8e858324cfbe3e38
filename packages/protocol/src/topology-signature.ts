// Topologies signed by the fleet (Ed25519), so a client can trust a topology whoever hands it over: a move
// frame from any node, or a bootstrap URL behind a proxy. Pure WebCrypto (`crypto.subtle`): Node >= 20 and
// current browsers. The agent signs with the same bytes (node-agent topology-signer.ts).
import { canonicalJson } from './canonical-json.js';
import { ProtocolError } from './errors.js';

/** The field of a signed `/topology` body that carries its signature (base64url, 64 bytes decoded). */
export const TOPOLOGY_SIGNATURE_FIELD = 'signature';

/** Prefixed to what is signed, so a topology signature can never be taken for a signature of anything else. */
const SIGNING_CONTEXT = 'wsring-topology-v1\n';

const ED25519 = { name: 'Ed25519' } as const;

/**
 * The bytes a topology signature covers: the context line, then the canonical JSON (canonical-json.ts) of the
 * body without its `signature` field. Every field is covered, including ones this version does not know.
 * Throws ProtocolError `BAD_TOPOLOGY` when `body` is not an object or not canonicalizable.
 */
export function topologySigningBytes(body: unknown): Uint8Array<ArrayBuffer> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ProtocolError('BAD_TOPOLOGY', 'not an object');
  const { [TOPOLOGY_SIGNATURE_FIELD]: _signature, ...signed } = body as Record<string, unknown>;
  return new TextEncoder().encode(SIGNING_CONTEXT + canonicalJson(signed));
}

export function encodeBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Standard or URL-safe base64, padded or not. Undefined when `text` is not base64. */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  const normal = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(normal) || normal.length % 4 === 1) return undefined;
  try {
    const binary = atob(normal + '='.repeat((4 - (normal.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** A topology public key as the client option takes it: raw 32 bytes, their base64(url), or an SPKI PEM. */
export type TopologyPublicKey = string | Uint8Array | CryptoKey;

const isCryptoKey = (key: unknown): key is CryptoKey => typeof CryptoKey !== 'undefined' && key instanceof CryptoKey;

/**
 * Import an Ed25519 public key for `verifyTopologySignature`. Throws ProtocolError `BAD_KEY` when it is not one
 * (or the runtime has no Ed25519 in WebCrypto).
 */
export async function importTopologyKey(key: TopologyPublicKey): Promise<CryptoKey> {
  const bad = (why: string, cause?: unknown) => new ProtocolError('BAD_KEY', `topology key: ${why}`, { cause });
  if (isCryptoKey(key)) {
    if (key.algorithm.name !== ED25519.name || key.type !== 'public') throw bad('not an Ed25519 public key');
    return key;
  }
  let format: 'raw' | 'spki' = 'raw';
  let bytes: Uint8Array<ArrayBuffer> | undefined;
  if (key instanceof Uint8Array) bytes = new Uint8Array(key);
  else if (typeof key === 'string') {
    const pem = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(key);
    if (pem) format = 'spki';
    bytes = decodeBase64((pem ? pem[1] : key).replace(/\s+/g, ''));
  }
  if (!bytes) throw bad('expected 32 raw bytes, their base64, or a PEM public key');
  if (format === 'raw' && bytes.length !== 32) throw bad(`a raw Ed25519 key has 32 bytes, got ${bytes.length}`);
  try {
    return await crypto.subtle.importKey(format, bytes, ED25519, false, ['verify']);
  } catch (error) {
    throw bad('not an Ed25519 public key (or no Ed25519 in this runtime)', error);
  }
}

/**
 * Whether `body` (a `/topology` body as parsed from JSON, before `parseTopology`) carries a signature by one of
 * `keys` over `topologySigningBytes(body)`. Never throws: anything malformed is simply not signed.
 */
export async function verifyTopologySignature(body: unknown, keys: readonly CryptoKey[]): Promise<boolean> {
  try {
    const signature = (body as Record<string, unknown>)[TOPOLOGY_SIGNATURE_FIELD];
    if (typeof signature !== 'string') return false;
    const bytes = decodeBase64(signature);
    if (!bytes || bytes.length !== 64) return false;
    const signed = topologySigningBytes(body);
    for (const key of keys) if (await crypto.subtle.verify(ED25519, key, bytes, signed)) return true;
    return false;
  } catch {
    return false;
  }
}
