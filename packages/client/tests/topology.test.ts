import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { importTopologyKey } from '@wsring/protocol';
import { ClientError } from '../src/errors.js';
import { loadTopology, sameUrl, topologyUrl } from '../src/topology.js';
import { FLEET, makeTopology } from './fakes.js';

describe('topology', () => {
  it('derives the /topology URL from a bootstrap entry', () => {
    expect(topologyUrl('http://a.test:8080')).toBe('http://a.test:8080/topology');
    expect(topologyUrl('https://a.test/wsring/')).toBe('https://a.test/wsring/topology');
    expect(topologyUrl('https://a.test/wsring?x=1')).toBe('https://a.test/wsring/topology');
    expect(topologyUrl('ws://a.test:9000/')).toBe('http://a.test:9000/topology');
    expect(topologyUrl('wss://a.test')).toBe('https://a.test/topology');
  });

  it('compares URLs after parsing', () => {
    expect(sameUrl('ws://A.test:80/ws', 'ws://a.test/ws')).toBe(true);
    expect(sameUrl('ws://a.test/ws', 'ws://a.test/other')).toBe(false);
    expect(sameUrl('not a url', 'not a url')).toBe(false);
  });

  it('accepts a valid body and rejects broken ones with BAD_TOPOLOGY', async () => {
    const { topology } = await makeTopology(['n1', 'n2'], 3);
    const loaded = await loadTopology(JSON.parse(JSON.stringify(topology)));
    expect(loaded.ring.fingerprint).toBe(topology.fingerprint);
    expect([...loaded.urls.keys()].sort()).toEqual(['n1', 'n2']);
    const broken: unknown[] = [
      null,
      [],
      'topology',
      { ...topology, protocol: 2 },
      // As JSON.parse builds it: an own toString key that String() would trip over.
      { ...topology, protocol: JSON.parse('{"toString":1}') },
      { ...topology, epoch: 'seven' },
      { ...topology, ring: undefined },
      { ...topology, ring: { ...topology.ring, algorithm: 'modulo' } },
      { ...topology, ring: { ...topology.ring, nodes: [] } },
      { ...topology, ring: { ...topology.ring, nodes: topology.ring.nodes.map((n) => ({ ...n, meta: {} })) } },
      { ...topology, ring: { ...topology.ring, nodes: topology.ring.nodes.map((n) => ({ ...n, meta: { url: 'http://not-a-socket' } })) } },
    ];
    for (const body of broken) await expect(loadTopology(body), JSON.stringify(body)?.slice(0, 80)).rejects.toMatchObject({ code: 'BAD_TOPOLOGY' });
  });

  it('knows draining nodes listed outside the ring', async () => {
    const { topology } = await makeTopology(['n1', 'n2'], 3);
    const body = { ...topology, nodes: [...topology.nodes, { id: 'n9', url: 'ws://n9.test/ws', weight: 1, state: 'draining' }] };
    const loaded = await loadTopology(body);
    expect(loaded.urls.get('n9')).toBe('ws://n9.test/ws');
    expect(loaded.ring.nodes.map((n) => n.id)).toEqual(['n1', 'n2']);
  });

  it('loads anything from the wire into a topology or a ClientError, with or without the fleet key, never another exception', async () => {
    const { topology } = await makeTopology(['n1', 'n2'], 3);
    const keys = importTopologyKey(FLEET.publicKey).then((k) => [k]);
    const genuine = await loadTopology(topology);
    // Mutations of a genuine signed body (any field replaced by any JSON value), and arbitrary JSON.
    const field = fc.constantFrom('protocol', 'epoch', 'fingerprint', 'ring', 'nodes', 'signature', 'extra');
    const mutated = fc.tuple(field, fc.jsonValue()).map(([k, v]) => ({ ...topology, [k]: v }));
    const ringMutated = fc.tuple(fc.constantFrom('version', 'algorithm', 'seed', 'pointsPerWeight', 'nodes'), fc.jsonValue()).map(([k, v]) => ({ ...topology, ring: { ...topology.ring, [k]: v } }));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, ringMutated, fc.jsonValue()), fc.boolean(), async (body, keyed) => {
        try {
          const loaded = await loadTopology(JSON.parse(JSON.stringify(body)), keyed ? keys : undefined);
          expect(loaded.ring.nodes.length).toBeGreaterThan(0);
          // With the key, only the body the fleet signed gets through, whatever was changed.
          if (keyed) expect(loaded.topology).toEqual(genuine.topology);
        } catch (error) {
          expect(error).toBeInstanceOf(ClientError);
          expect(['BAD_TOPOLOGY', 'UNTRUSTED_TOPOLOGY']).toContain((error as ClientError).code);
        }
      }),
      { numRuns: 400, seed: 51 },
    );
  });
});
