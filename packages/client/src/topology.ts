// Fetching `/topology` from bootstrap agents and turning it into a ring the client can place itself on.
import { loadRing } from '@wsring/ring';
import { ClientError } from './errors.js';
import { PROTOCOL_VERSION, type Topology } from './protocol.js';
import type { FetchLike, LoadedTopology, Timers } from './types.js';

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

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** Validate a `/topology` body and build its ring. Throws ClientError `BAD_TOPOLOGY`. */
export async function loadTopology(body: unknown): Promise<LoadedTopology> {
  const bad = (why: string, cause?: unknown) => new ClientError('BAD_TOPOLOGY', `invalid /topology body: ${why}`, { cause });
  if (!isRecord(body)) throw bad('not an object');
  if (body.protocol !== PROTOCOL_VERSION) throw bad(`protocol ${JSON.stringify(body.protocol)}, expected ${PROTOCOL_VERSION}`);
  if (typeof body.epoch !== 'number' || !Number.isFinite(body.epoch)) throw bad('no numeric epoch');
  if (!isRecord(body.ring)) throw bad('no ring');
  let ring;
  try {
    ring = await loadRing(body.ring as unknown as Topology['ring']);
  } catch (error) {
    throw bad('ring snapshot rejected', error);
  }
  if (ring.nodes.length === 0) throw bad('ring has no nodes');
  const urls = new Map<string, string>();
  for (const node of ring.nodes) {
    const url = node.meta?.url;
    if (typeof url !== 'string' || !isWebSocketUrl(url)) throw bad(`ring node ${node.id} has no ws(s) meta.url`);
    urls.set(node.id, url);
  }
  // Nodes outside the ring (for example draining ones) are still known endpoints.
  if (Array.isArray(body.nodes)) {
    for (const node of body.nodes) {
      if (isRecord(node) && typeof node.id === 'string' && typeof node.url === 'string' && isWebSocketUrl(node.url) && !urls.has(node.id)) {
        urls.set(node.id, node.url);
      }
    }
  }
  return { topology: body as unknown as Topology, ring, urls };
}

function isWebSocketUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'ws:' || protocol === 'wss:';
  } catch {
    return false;
  }
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
  timers: Timers,
  cancel: AbortSignal,
): Promise<LoadedTopology> {
  const errors: unknown[] = [];
  for (let i = 0; i < bootstrap.length && !cancel.aborted; i++) {
    const url = topologyUrl(bootstrap[(start + i) % bootstrap.length]);
    const abort = new AbortController();
    const stop = () => abort.abort();
    const timer = timers.setTimeout(stop, timeoutMs);
    cancel.addEventListener('abort', stop);
    try {
      const response = await fetchImpl(url, { signal: abort.signal, headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      return await loadTopology(await response.json());
    } catch (error) {
      errors.push(error);
    } finally {
      timers.clearTimeout(timer);
      cancel.removeEventListener('abort', stop);
    }
  }
  throw new ClientError('BOOTSTRAP_FAILED', `no bootstrap URL answered /topology (${errors.length} tried)`, { cause: errors });
}
