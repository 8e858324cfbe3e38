// The `/topology` body: what a client accepts before it builds a ring from it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, ProtocolError, parseTopology, topologyUrls, type Topology } from '../src/mod.js';

const topology: Topology = {
  protocol: PROTOCOL_VERSION,
  epoch: 3,
  fingerprint: 'c93b84287a69602d',
  ring: {
    version: 1,
    algorithm: 'ring',
    seed: 0,
    pointsPerWeight: 160,
    nodes: [
      { id: 'n1', weight: 1, meta: { url: 'ws://n1.test/ws' } },
      { id: 'n2', weight: 2, meta: { url: 'wss://n2.test/ws' } },
    ],
  },
  nodes: [
    { id: 'n1', url: 'ws://n1.test/ws', weight: 1, state: 'active' },
    { id: 'n2', url: 'wss://n2.test/ws', weight: 2, state: 'active' },
    { id: 'n3', url: 'ws://n3.test/ws', weight: 1, state: 'draining' },
  ],
};

function code(body: unknown): string {
  try {
    parseTopology(body);
    return 'ok';
  } catch (error) {
    if (error instanceof ProtocolError) return error.code;
    throw error;
  }
}

describe('parseTopology', () => {
  it('accepts a valid body as it came over the wire', () => {
    expect(parseTopology(JSON.parse(JSON.stringify(topology)))).toEqual(topology);
  });

  it('rejects broken bodies with BAD_TOPOLOGY', () => {
    const withRingNodes = (nodes: unknown[]) => ({ ...topology, ring: { ...topology.ring, nodes } });
    const broken: unknown[] = [
      null,
      [],
      'topology',
      { ...topology, protocol: 2 },
      // As JSON.parse builds it: an own toString key that String() would trip over.
      { ...topology, protocol: JSON.parse('{"toString":1}') },
      { ...topology, epoch: 'seven' },
      { ...topology, epoch: Infinity },
      { ...topology, epoch: 1e300 },
      { ...topology, epoch: 2 ** 53 },
      { ...topology, epoch: -1 },
      { ...topology, epoch: 1.5 },
      { ...topology, fingerprint: undefined },
      { ...topology, ring: undefined },
      { ...topology, ring: [] },
      withRingNodes([]),
      withRingNodes([null]),
      withRingNodes(topology.ring.nodes.map((n) => ({ ...n, meta: {} }))),
      withRingNodes(topology.ring.nodes.map((n) => ({ ...n, meta: { url: 'http://not-a-socket' } }))),
      withRingNodes(topology.ring.nodes.map((n) => ({ ...n, meta: { url: 'ws://' } }))),
    ];
    for (const body of broken) expect(code(body), JSON.stringify(body)?.slice(0, 80)).toBe('BAD_TOPOLOGY');
  });

  it('drops `nodes` entries that are not valid nodes, keeping the topology', () => {
    const body = { ...topology, nodes: [...topology.nodes, null, { id: 'n4', url: 'http://n4.test' }, { id: 'n5', url: 'ws://n5.test', weight: 1, state: 'gone' }] };
    expect(parseTopology(body).nodes).toEqual(topology.nodes);
    expect(parseTopology({ ...topology, nodes: undefined }).nodes).toEqual([]);
  });

  it('gives a Topology or a ProtocolError for any JSON value shaped like a topology or not', () => {
    const field = fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom('nodes', 'meta', 'url', 'id', 'toString', '__proto__'), fc.jsonValue()));
    const shaped = fc.record({ protocol: fc.constantFrom(1, 2, '1'), epoch: field, fingerprint: field, ring: field, nodes: field }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(shaped, fc.jsonValue()), (body) => {
        expect(['ok', 'BAD_TOPOLOGY']).toContain(code(JSON.parse(JSON.stringify(body))));
      }),
      { numRuns: 2_000, seed: 21 },
    );
  });
});

describe('topologyUrls', () => {
  it('maps every node the topology names to its WebSocket URL, the ring first', () => {
    const urls = topologyUrls({ ...topology, nodes: [...topology.nodes, { id: 'n1', url: 'ws://elsewhere.test/ws', weight: 1, state: 'active' }] });
    expect(Object.fromEntries(urls)).toEqual({ n1: 'ws://n1.test/ws', n2: 'wss://n2.test/ws', n3: 'ws://n3.test/ws' });
  });
});
