// Signed topologies: the bytes a signature covers, and verification that trusts nothing it is handed.
import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  PROTOCOL_VERSION,
  ProtocolError,
  canonicalJson,
  encodeBase64Url,
  importTopologyKey,
  parseTopology,
  topologySigningBytes,
  verifyTopologySignature,
  type Topology,
} from '../src/mod.js';

const body: Topology = {
  protocol: PROTOCOL_VERSION,
  epoch: 3,
  fingerprint: 'c93b84287a69602d',
  ring: { version: 1, algorithm: 'ring', seed: 0, pointsPerWeight: 160, nodes: [{ id: 'n1', weight: 1, meta: { url: 'ws://n1.test/ws' } }] },
  nodes: [{ id: 'n1', url: 'ws://n1.test/ws', weight: 1, state: 'active' }],
};

/** An Ed25519 pair as the agent holds it (node:crypto), and the public key in every form the client takes. */
function pair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url'));
  const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const signed = (b: object) => ({ ...b, signature: encodeBase64Url(sign(null, topologySigningBytes(b), privateKey)) });
  return { raw, pem, signed };
}

let fleet: ReturnType<typeof pair>;
let other: ReturnType<typeof pair>;
let key: CryptoKey;

beforeAll(async () => {
  fleet = pair();
  other = pair();
  key = await importTopologyKey(fleet.raw);
});

describe('canonicalJson', () => {
  it('writes the same text for the same value whatever the key order, and parses back to it', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        const reversed = JSON.parse(JSON.stringify(value), (_k, v: unknown) =>
          v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
        );
        expect(canonicalJson(reversed)).toBe(text);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 1_000, seed: 31 },
    );
  });

  it('refuses nesting deeper than a topology could need, with a ProtocolError', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(ProtocolError);
  });
});

describe('topology signatures', () => {
  it('verify over the JSON a client receives, with the key raw, in base64, base64url or PEM', async () => {
    const wire = JSON.parse(JSON.stringify(fleet.signed(body)));
    for (const form of [fleet.raw, Buffer.from(fleet.raw).toString('base64'), encodeBase64Url(fleet.raw), fleet.pem]) {
      expect(await verifyTopologySignature(wire, [await importTopologyKey(form)])).toBe(true);
    }
    expect(parseTopology(wire).signature).toBe(wire.signature);
  });

  it('refuse an unsigned body, another key’s signature, and any change to any field', async () => {
    expect(await verifyTopologySignature(body, [key])).toBe(false);
    expect(await verifyTopologySignature(other.signed(body), [key])).toBe(false);
    // Rotation: a client given both keys takes either.
    expect(await verifyTopologySignature(other.signed(body), [key, await importTopologyKey(other.raw)])).toBe(true);
    const signed = fleet.signed(body);
    const tampered = [
      { ...signed, epoch: Number.MAX_SAFE_INTEGER },
      { ...signed, nodes: [{ ...body.nodes[0], url: 'ws://evil.test/ws' }] },
      { ...signed, ring: { ...body.ring, nodes: [{ id: 'n1', weight: 1, meta: { url: 'ws://evil.test/ws' } }] } },
      { ...signed, extra: true },
      { ...signed, signature: signed.signature.slice(0, -2) + (signed.signature.endsWith('AA') ? 'BA' : 'AA') },
    ];
    for (const t of tampered) expect(await verifyTopologySignature(t, [key])).toBe(false);
  });

  it('never throws, whatever it is handed', async () => {
    const signature = fc.oneof(fc.string(), fc.base64String(), fc.constant(fleet.signed(body).signature), fc.jsonValue());
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.record({ signature, epoch: fc.jsonValue(), ring: fc.jsonValue() }, { requiredKeys: [] })), async (value) => {
        expect(typeof (await verifyTopologySignature(value, [key]))).toBe('boolean');
      }),
      { numRuns: 500, seed: 32 },
    );
  });

  it('rejects keys that are not Ed25519 public keys with a ProtocolError BAD_KEY', async () => {
    for (const bad of ['', 'not base64!', encodeBase64Url(new Uint8Array(31)), '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', new Uint8Array(5)]) {
      await expect(importTopologyKey(bad)).rejects.toMatchObject({ name: 'ProtocolError', code: 'BAD_KEY' });
    }
  });
});
