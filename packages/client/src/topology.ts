// Fetching `/topology` from bootstrap agents and turning it into a ring the client can place itself on.
import { parseTopology, ProtocolError, topologyUrls, verifyTopologySignature, type Topology } from '@wsring/protocol';
import { loadRing } from '@wsring/ring';
import { ClientError } from './errors.js';
import { cachedTopology } from './topology-cache.js';
import type { Clock, FetchLike, LoadedTopology } from './types.js';

/** The `/topology` URL of a bootstrap entry: relative to it (so a path prefix is kept), ws(s) mapped to http(s). */
export function topologyUrl(bootstrap: string): string {
  const base = new URL(bootstrap);
  if (base.protocol === 'ws:') base.protocol = 'http:';
  else if (base.protocol === 'wss:') base.protocol = 'https:';
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  base.search = '';
  return new URL('topology', base).toString();
}

/** Two URLs name the same endpoint when they are equal after parsing (case of scheme and host, default ports). */
export function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).toString() === new URL(b).toString();
  } catch {
    return false;
  }
}

/**
 * Check a `/topology` body (@wsring/protocol's `parseTopology`) and build its ring. Throws ClientError
 * `BAD_TOPOLOGY`. With `keys` (the fleet's), the body must also carry a signature by one of them, else
 * `UNTRUSTED_TOPOLOGY`; `keys` rejecting (a key that does not import) rejects with its error. A body identical to
 * one already loaded under the same keys in this runtime is not checked again (topology-cache.ts).
 */
export function loadTopology(body: unknown, keys?: Promise<readonly CryptoKey[]>): Promise<LoadedTopology> {
  return cachedTopology(body, keys, (copy) => checkAndBuild(copy, keys));
}

async function checkAndBuild(body: unknown, keys?: Promise<readonly CryptoKey[]>): Promise<LoadedTopology> {
  const bad = (why: string, cause?: unknown) => new ClientError('BAD_TOPOLOGY', `invalid /topology body: ${why}`, { cause });
  if (keys !== undefined && !(await verifyTopologySignature(body, await keys))) {
    throw new ClientError('UNTRUSTED_TOPOLOGY', 'a topology not signed by the fleet key (topologyKey) was ignored');
  }
  let topology: Topology;
  try {
    topology = parseTopology(body);
  } catch (error) {
    if (error instanceof ProtocolError) throw bad(error.message, error);
    throw error;
  }
  let ring;
  try {
    ring = await loadRing(topology.ring);
  } catch (error) {
    throw bad('ring snapshot rejected', error);
  }
  return { topology, ring, urls: topologyUrls(topology) };
}

/**
 * Fetch and load `/topology` from the bootstrap URLs in turn, starting at `start`, until one answers with a valid
 * topology. Throws ClientError `BOOTSTRAP_FAILED` (with every attempt's error as `cause`) when none does or when
 * `cancel` is aborted.
 */
export async function fetchTopology(
  fetchImpl: FetchLike,
  bootstrap: readonly string[],
  start: number,
  timeoutMs: number,
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>,
  cancel: AbortSignal,
  keys?: Promise<readonly CryptoKey[]>,
): Promise<LoadedTopology> {
  const errors: unknown[] = [];
  for (let i = 0; i < bootstrap.length && !cancel.aborted; i++) {
    const url = topologyUrl(bootstrap[(start + i) % bootstrap.length]);
    const abort = new AbortController();
    const stop = () => abort.abort();
    const timer = clock.setTimeout(stop, timeoutMs);
    cancel.addEventListener('abort', stop);
    try {
      const response = await fetchImpl(url, { signal: abort.signal, headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      return await loadTopology(await response.json(), keys);
    } catch (error) {
      errors.push(error);
    } finally {
      clock.clearTimeout(timer);
      cancel.removeEventListener('abort', stop);
    }
  }
  const first = errors[0] instanceof Error ? `: ${errors[0].message}` : '';
  throw new ClientError('BOOTSTRAP_FAILED', `no bootstrap URL answered /topology with a usable topology (${errors.length} tried)${first}`, { cause: errors });
}
