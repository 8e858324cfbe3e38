// Signs the topology this agent serves (on /topology and inside move frames), so clients given the fleet's
// public key can trust a topology whoever hands it to them (docs/protocol.md, "Trust"). The signed bytes and
// the signature field are @wsring/protocol's (topology-signature.ts); this is only the Node half that signs.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { decodeBase64, encodeBase64Url, importTopologyKey, topologySigningBytes, verifyTopologySignature } from '@wsring/protocol';
import { AgentError } from './errors.js';

/** An Ed25519 private key: a KeyObject, a PKCS#8 PEM, or the raw 32-byte seed (bytes or their base64). */
export type TopologySigningKey = KeyObject | string | Uint8Array;

export interface TopologySigner {
  /** The signature (base64url) of a topology body, over `topologySigningBytes`. */
  sign(body: unknown): string;
  /** The public half, raw 32 bytes in base64url: what clients are given as `topologyKey`. */
  readonly publicKey: string;
  /** Whether a topology body (a peer's, as parsed from JSON) is signed by this fleet's key. */
  verify(body: unknown): Promise<boolean>;
}

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): the fixed DER header, then the 32 bytes.
const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

function privateKeyOf(key: TopologySigningKey): KeyObject {
  const bad = (why: string, cause?: unknown) => new AgentError('INVALID_OPTION', `topologySigningKey: ${why}`, { cause });
  let object: KeyObject;
  try {
    if (typeof key === 'string' && key.includes('-----BEGIN')) object = createPrivateKey(key);
    else if (typeof key === 'object' && !(key instanceof Uint8Array)) object = key;
    else {
      const seed = typeof key === 'string' ? decodeBase64(key.trim()) : key;
      if (!seed || seed.length !== 32) throw bad('expected a PKCS#8 PEM, or a raw 32-byte Ed25519 seed (bytes or base64)');
      object = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    }
  } catch (error) {
    if (error instanceof AgentError) throw error;
    throw bad('not a private key', error);
  }
  if (object.type !== 'private' || object.asymmetricKeyType !== 'ed25519') throw bad('not an Ed25519 private key');
  return object;
}

export function createTopologySigner(key: TopologySigningKey): TopologySigner {
  const privateKey = privateKeyOf(key);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicKey = jwk.x as string;
  const verifyKey = importTopologyKey(publicKey);
  verifyKey.catch(() => {}); // surfaces on first use
  return {
    publicKey,
    sign: (body) => encodeBase64Url(sign(null, topologySigningBytes(body), privateKey)),
    verify: async (body) => verifyTopologySignature(body, [await verifyKey]),
  };
}

/** A fresh fleet key: the private half as a PKCS#8 PEM (for `--topology-key-file`), the public half for clients. */
export function generateTopologyKeyPair(): { privateKeyPem: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKey: createTopologySigner(privateKey).publicKey };
}
