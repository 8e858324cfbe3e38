// Topologies already checked and built in this runtime, shared by every client in it that trusts the same keys.
// One change sends the same topology to every user it moves; a process holding thousands of clients (a Node
// service, a load test) would otherwise verify the same Ed25519 signature and build the same ring once per user:
// measured 0.2 ms to build a 6-node ring and 0.5 ms more to verify it, most of what following a move costs a
// client. A browser page holds one client, so there the cache holds its last few topologies and nothing more.
import { encodeBase64Url, importTopologyKey, type TopologyPublicKey } from '@wsring/protocol';
import { ClientError } from './errors.js';
import type { LoadedTopology } from './types.js';

/** Topologies kept per trust (one key set, or none). A change in flight and the one before it fit with room. */
export const TOPOLOGY_CACHE_SIZE = 8;

/** Key sets imported so far, by their text: clients given the same keys share one import and so one cache. */
const KEY_SETS_KEPT = 16;
const importedKeySets = new Map<string, Promise<readonly CryptoKey[]>>();
/** A number per CryptoKey object given (a CryptoKey has no text to compare): the same object, the same key set. */
const cryptoKeyIds = new WeakMap<CryptoKey, number>();
let nextCryptoKeyId = 0;

/** Stands for "no keys" (topologies from the bootstrap URLs only), as a key of `byTrust`. */
const UNSIGNED = {};
const byTrust = new WeakMap<object, Map<string, Promise<LoadedTopology>>>();

/**
 * Import the fleet's keys once per runtime: every client that gives the same keys (the same text or bytes, or the
 * same CryptoKey objects, in the same order) gets the same promise, and so shares cached topologies. A PEM and the
 * base64 of the same key are different texts: they are imported, and cache, apart.
 * A key that does not import rejects with ClientError `BAD_KEY`.
 */
export function importKeySet(keys: readonly TopologyPublicKey[]): Promise<readonly CryptoKey[]> {
  const text = keysText(keys);
  const known = importedKeySets.get(text);
  if (known) {
    // Most recently used last: a busy key set is not the one evicted.
    importedKeySets.delete(text);
    importedKeySets.set(text, known);
    return known;
  }
  const imported = Promise.all(keys.map((key) => importTopologyKey(key))).catch((error: unknown) => {
    throw new ClientError('BAD_KEY', `topologyKey could not be imported: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  });
  imported.catch(() => {}); // reported by every topology check that needs it, not as an unhandled rejection
  remember(importedKeySets, text, imported, KEY_SETS_KEPT);
  return imported;
}

/** The keys as one string that no other list of keys gives: each tagged by its kind, as a JSON array. */
function keysText(keys: readonly TopologyPublicKey[]): string {
  return JSON.stringify(
    keys.map((key) => {
      if (typeof key === 'string') return ['s', key.trim()];
      if (key instanceof Uint8Array) return ['b', encodeBase64Url(key)];
      let id = cryptoKeyIds.get(key);
      if (id === undefined) cryptoKeyIds.set(key, (id = nextCryptoKeyId++));
      return ['c', id];
    }),
  );
}

/**
 * The topology `body` loaded by `load`, or the same body loaded before under the same `keys` (the same promise
 * object). Only a body whose JSON text is identical is served from the cache, so a body that differs from a checked
 * one in any field is checked afresh; a load that fails is not kept. On a miss `load` is given a private copy made
 * from that very text, so what is checked is what the cache is keyed by, whatever the caller does with `body` later.
 */
export function cachedTopology(body: unknown, keys: Promise<readonly CryptoKey[]> | undefined, load: (copy: unknown) => Promise<LoadedTopology>): Promise<LoadedTopology> {
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch {
    text = undefined; // a body JSON cannot write (a cycle): not from the wire; load rejects it
  }
  if (text === undefined) return load(body);
  const trust = keys ?? UNSIGNED;
  let cache = byTrust.get(trust);
  if (!cache) byTrust.set(trust, (cache = new Map()));
  const known = cache.get(text);
  if (known) {
    // Most recently used last: the oldest goes first.
    cache.delete(text);
    cache.set(text, known);
    return known;
  }
  const key = text;
  const loading = load(JSON.parse(key));
  remember(cache, key, loading, TOPOLOGY_CACHE_SIZE);
  const kept = cache;
  loading.catch(() => {
    if (kept.get(key) === loading) kept.delete(key);
  });
  return loading;
}

function remember<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.set(key, value);
  while (map.size > limit) map.delete(map.keys().next().value as string);
}
