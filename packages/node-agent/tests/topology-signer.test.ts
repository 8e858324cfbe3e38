// The agent signs the topology it serves, and a cut-off agent adopts a peer's topology only when the fleet signed it.
import { createServer, type Server } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createRing } from '@wsring/ring';
import { decodeServerFrame, importTopologyKey, verifyTopologySignature, type ReconnectFrame } from '@wsring/protocol';
import { AgentError, createAgent, createTopologySigner, generateTopologyKeyPair, MemoryMembership, type Agent } from '../src/mod.js';
import { peersTopology } from '../src/fleet-view.js';
import { moveFrameText, topologyJson } from '../src/topology-json.js';
import type { AgentTopology } from '../src/types.js';

async function snapshot(epoch: number, ids = ['a', 'b']): Promise<AgentTopology> {
  const ring = await createRing(ids.map((id) => ({ id, meta: { url: `ws://${id}.test/ws` } })));
  return { epoch, fingerprint: ring.fingerprint, ring, nodes: ids.map((id) => ({ id, url: `ws://${id}.test/ws`, weight: 1, state: 'active' as const })) };
}

describe('createTopologySigner', () => {
  it('takes the key as PKCS#8 PEM, raw seed bytes, their base64, or a KeyObject, all with the same public half', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url');
    const keys = [createTopologySigner(pem), createTopologySigner(seed), createTopologySigner(seed.toString('base64')), createTopologySigner(privateKey)];
    expect(new Set(keys.map((k) => k.publicKey)).size).toBe(1);
    const pair = generateTopologyKeyPair();
    expect(createTopologySigner(pair.privateKeyPem).publicKey).toBe(pair.publicKey);
  });

  it('refuses what is not an Ed25519 private key with AgentError INVALID_OPTION', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const publicOnly = generateKeyPairSync('ed25519').publicKey;
    for (const bad of ['', 'short', Buffer.alloc(31), rsa, publicOnly, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----']) {
      expect(() => createTopologySigner(bad as never)).toThrow(AgentError);
    }
  });
});

describe('signed topology text', () => {
  it('the /topology body and the topology inside move frames carry a signature clients verify; each snapshot is signed once', async () => {
    const { privateKeyPem, publicKey } = generateTopologyKeyPair();
    const signer = createTopologySigner(privateKeyPem);
    const sign = vi.spyOn(signer, 'sign');
    const key = await importTopologyKey(publicKey);
    const t = await snapshot(4);
    const body = JSON.parse(topologyJson(t, signer));
    expect(await verifyTopologySignature(body, [key])).toBe(true);
    expect(await verifyTopologySignature(JSON.parse(topologyJson(await snapshot(4))), [key])).toBe(false);
    const frame = { type: 'reconnect', node: 'b', url: 'ws://b.test/ws', epoch: 4, fingerprint: t.fingerprint, graceMs: 5_000 } as const;
    for (const clientEpoch of [undefined, 1, 3]) {
      const decoded = decodeServerFrame(moveFrameText(frame, t, clientEpoch, signer)) as ReconnectFrame;
      expect(await verifyTopologySignature(decoded.topology, [key])).toBe(true);
    }
    expect(sign).toHaveBeenCalledTimes(1);
  });
});

describe('a real agent with a signing key', () => {
  const servers: Server[] = [];
  let agent: Agent;
  afterAll(async () => {
    await agent?.close();
    for (const s of servers) s.close();
  });

  it('serves a signed /topology, and a peer answer counts for the cut-off follower only when signed by the fleet', async () => {
    const fleet = generateTopologyKeyPair();
    agent = await createAgent({ id: 'a', membership: new MemoryMembership(), port: 0, host: '127.0.0.1', settleMs: 50, heartbeatMs: 100, topologySigningKey: fleet.privateKeyPem });
    expect(agent.topologyPublicKey).toBe(fleet.publicKey);
    const body = await (await fetch(`http://127.0.0.1:${agent.port}/topology`)).json();
    expect(await verifyTopologySignature(body, [await importTopologyKey(fleet.publicKey)])).toBe(true);

    // A peer address answered by someone else: a newer ring without the asking node, signed by another key.
    const forged = JSON.parse(topologyJson(await snapshot(body.epoch + 100, ['x']), createTopologySigner(generateTopologyKeyPair().privateKeyPem)));
    const impostor = createServer((_req, res) => res.end(JSON.stringify(forged)));
    servers.push(impostor);
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const peers = [`ws://127.0.0.1:${(impostor.address() as AddressInfo).port}/ws`, agent.url];
    const options = { httpPrefix: '', timeoutMs: 5_000 };
    // Unsigned answers are not taken unless asked for: then the impostor's newer ring wins; with the fleet's check,
    // only the genuine answer counts.
    expect(await peersTopology(peers, options)).toBeUndefined();
    expect((await peersTopology(peers, { ...options, trustUnsigned: true }))?.epoch).toBe(forged.epoch);
    const verify = createTopologySigner(fleet.privateKeyPem).verify;
    expect((await peersTopology(peers, { ...options, verify }))?.epoch).toBe(body.epoch);
    expect(await peersTopology(peers.slice(0, 1), { ...options, verify })).toBeUndefined();
  });
});
