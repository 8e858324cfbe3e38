// Clients in one runtime share the topologies they have checked: the same body under the same keys is verified and
// built once; anything else (another body, other keys, a body that failed) is checked afresh.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { importKeySet, TOPOLOGY_CACHE_SIZE } from '../src/topology-cache.js';
import { loadTopology } from '../src/topology.js';
import { ClientError } from '../src/errors.js';
import { FLEET, fleetKey, makeTopology } from './fakes.js';

const IDS = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-6'];

afterEach(() => {
  vi.restoreAllMocks();
});

/** Counts signature checks from here on. */
const countVerifies = () => vi.spyOn(crypto.subtle, 'verify');

describe('topology cache', () => {
  it('clients given the same key text share one import, and one check of a topology', async () => {
    const { topology } = await makeTopology(IDS, 101);
    const keysA = importKeySet([FLEET.publicKey]);
    const keysB = importKeySet([` ${FLEET.publicKey}\n`]);
    expect(keysB).toBe(keysA);
    const verify = countVerifies();
    // The same frame as each client parsed it: equal objects, not the same one.
    const first = await loadTopology(structuredClone(topology), keysA);
    const second = await loadTopology(structuredClone(topology), keysB);
    expect(second).toBe(first);
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it('a body that differs from a checked one in any field is checked afresh, and a forgery is still rejected', async () => {
    const { topology } = await makeTopology(IDS, 102);
    const keys = importKeySet([FLEET.publicKey]);
    await loadTopology(topology, keys);
    const verify = countVerifies();
    // The genuine signature on an altered body.
    const forged = { ...topology, epoch: topology.epoch + 1 };
    await expect(loadTopology(forged, keys)).rejects.toMatchObject({ code: 'UNTRUSTED_TOPOLOGY' });
    await expect(loadTopology(forged, keys)).rejects.toMatchObject({ code: 'UNTRUSTED_TOPOLOGY' });
    expect(verify).toHaveBeenCalledTimes(2); // a failure is not kept
  });

  it('a topology checked under one key set is not trusted under another', async () => {
    const { topology } = await makeTopology(IDS, 103);
    await loadTopology(topology, importKeySet([FLEET.publicKey]));
    const other = importKeySet([fleetKey().publicKey]);
    await expect(loadTopology(topology, other)).rejects.toMatchObject({ code: 'UNTRUSTED_TOPOLOGY' });
    // Nor by a client that trusts no key (it takes topologies from its bootstrap URLs only): its own entry.
    const unsigned = await loadTopology(topology);
    expect(unsigned.topology.epoch).toBe(103);
  });

  it('keeps the last TOPOLOGY_CACHE_SIZE topologies per key set, most recently used last', async () => {
    const keys = importKeySet([FLEET.publicKey]);
    const bodies = await Promise.all(Array.from({ length: TOPOLOGY_CACHE_SIZE + 1 }, (_, i) => makeTopology(IDS, 200 + i).then((f) => f.topology)));
    for (const body of bodies.slice(0, TOPOLOGY_CACHE_SIZE)) await loadTopology(body, keys);
    await loadTopology(bodies[0], keys); // used again: now the newest
    await loadTopology(bodies[TOPOLOGY_CACHE_SIZE], keys); // one too many: the oldest (bodies[1]) goes
    const verify = countVerifies();
    await loadTopology(bodies[0], keys);
    expect(verify).toHaveBeenCalledTimes(0);
    await loadTopology(bodies[1], keys);
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it('a key that does not import rejects with BAD_KEY, for every client that gave it', async () => {
    const bad = new Uint8Array(32);
    const keys = importKeySet([bad, 'not a key']);
    const error = await keys.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).code).toBe('BAD_KEY');
    expect(importKeySet([bad, 'not a key'])).toBe(keys);
  });
});
