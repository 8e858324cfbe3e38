import { parseTopology, type Topology } from '@wsring/protocol';

/** The `/topology` URL of a node, from the WebSocket URL it advertises (same host and port, http(s)). */
export function topologyUrlOf(wsUrl: string, httpPrefix: string): string | undefined {
  try {
    const u = new URL(wsUrl);
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return undefined;
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    u.pathname = `${httpPrefix}/topology`;
    u.search = '';
    return u.toString();
  } catch {
    return undefined;
  }
}

/**
 * What the rest of the fleet serves, asked of peers directly (not through the store): the newest valid
 * `/topology` among up to `max` peers that answer within `timeoutMs` and pass `verify` (or any, with
 * `trustUnsigned`), or undefined. Unsigned answers are not taken by default: anyone who can answer on a peer's address
 * could otherwise move this node's users.
 */
export async function peersTopology(
  peerUrls: readonly string[],
  options: {
    httpPrefix: string;
    timeoutMs: number;
    max?: number;
    /** Only answers it accepts count (a signature check). */
    verify?: (body: unknown) => Promise<boolean>;
    /** Without `verify`, take unsigned answers; otherwise nothing is asked and the answer is undefined. */
    trustUnsigned?: boolean;
  },
): Promise<Topology | undefined> {
  if (!options.verify && !options.trustUnsigned) return undefined;
  const asks = peerUrls.slice(0, options.max ?? 3).map(async (wsUrl) => {
    const url = topologyUrlOf(wsUrl, options.httpPrefix);
    if (!url) return undefined;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs) });
      if (!res.ok) return undefined;
      const body: unknown = await res.json();
      if (options.verify && !(await options.verify(body))) return undefined;
      return parseTopology(body);
    } catch {
      return undefined;
    }
  });
  const answers = (await Promise.all(asks)).filter((t): t is Topology => t !== undefined);
  return answers.sort((a, b) => b.epoch - a.epoch)[0];
}
