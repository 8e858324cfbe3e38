// Clients in one runtime share the topologies they have checked: the same body under the same keys is verified and
// built once; anything else (another body, other keys, a body that failed) is checked afresh.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { importTopologyKey } from '@wsring/protocol';
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

  it('a topology first loaded without keys, or under other keys, is still checked under a client\'s own', async () => {
    const { topology } = await makeTopology(IDS, 104);
    const stranger = fleetKey();
    await loadTopology(topology); // a client trusting its bootstrap URLs only
    await expect(loadTopology(topology, importKeySet([stranger.publicKey]))).rejects.toMatchObject({ code: 'UNTRUSTED_TOPOLOGY' });
    const signedByStranger = stranger.sign(topology);
    await loadTopology(signedByStranger, importKeySet([stranger.publicKey]));
    await expect(loadTopology(signedByStranger, importKeySet([FLEET.publicKey]))).rejects.toMatchObject({ code: 'UNTRUSTED_TOPOLOGY' });
  });

  it('key sets are told apart exactly: no list of keys shares an import with another', async () => {
    const other = fleetKey();
    const pair = importKeySet([FLEET.publicKey, other.publicKey]);
    // One string that the pair's text would be, joined naively: it must not be taken for the pair.
    const joined = importKeySet([`${FLEET.publicKey}\ns:${other.publicKey}`]);
    expect(joined).not.toBe(pair);
    expect(importKeySet([other.publicKey, FLEET.publicKey])).not.toBe(pair);
    // CryptoKeys have no text: the same objects share, other objects (even of the same key) do not.
    const fleetCrypto = await importTopologyKey(FLEET.publicKey);
    const otherCrypto = await importTopologyKey(other.publicKey);
    const byFleet = importKeySet([fleetCrypto]);
    expect(importKeySet([fleetCrypto])).toBe(byFleet);
    const byOther = importKeySet([otherCrypto]);
    expect(byOther).not.toBe(byFleet);
    const { topology } = await makeTopology(IDS, 105);
    await loadTopology(topology, byFleet);
    await expect(loadTopology(topology, byOther)).rejects.toMatchObject({ code: 'UNTRUSTED_TOPOLOGY' });
  });

  it('loads of one body at once verify it once; forged ones at once all fail and leave nothing behind', async () => {
    const { topology } = await makeTopology(IDS, 106);
    const keys = importKeySet([FLEET.publicKey]);
    const verify = countVerifies();
    const loaded = await Promise.all(Array.from({ length: 5 }, () => loadTopology(structuredClone(topology), keys)));
    expect(new Set(loaded).size).toBe(1);
    expect(verify).toHaveBeenCalledTimes(1);
    const forged = { ...topology, epoch: 999 };
    const results = await Promise.allSettled(Array.from({ length: 3 }, () => loadTopology(forged, keys)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    await expect(loadTopology(forged, keys)).rejects.toMatchObject({ code: 'UNTRUSTED_TOPOLOGY' });
    expect(verify).toHaveBeenCalledTimes(3); // the three at once shared one check, and the one after checked again
  });

  it('what is checked is the body as it was given: changing it afterwards changes nothing cached', async () => {
    const { topology } = await makeTopology(IDS, 107);
    const keys = importKeySet([FLEET.publicKey]);
    const body = structuredClone(topology);
    const loading = loadTopology(body, keys);
    body.epoch = 108; // the caller's object, changed while the check runs
    expect((await loading).topology.epoch).toBe(107);
    expect((await loadTopology(structuredClone(topology), keys)).topology.epoch).toBe(107);
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
