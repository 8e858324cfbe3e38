import { describe, expect, it } from 'vitest';
import { loadTopology, sameUrl, topologyUrl } from '../src/topology.js';
import { makeTopology } from './fakes.js';

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
});
