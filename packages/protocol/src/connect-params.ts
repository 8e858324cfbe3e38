// What a client tells a node when it connects: query parameters of the WebSocket URL.

/** Query parameters of the WebSocket URL a client opens. */
export interface ConnectParams {
  /** The user id the client claims; with token authentication the token's subject decides. */
  user: string;
  token?: string;
  /** The topology epoch the client computed its owner from. */
  epoch?: number;
  /** Node ids the client found unreachable; lets the next node of its preference list accept it. */
  unreachable?: string[];
  /** Last delivery position the client has (for replay). */
  last?: number;
  /** The session id a node gave this tab before: a reconnecting tab keeps it (see `isValidSessionId`). */
  session?: string;
}

/** The URL a client opens on a node: the node's WebSocket URL plus ConnectParams as query parameters. */
export function connectUrl(nodeUrl: string, params: ConnectParams): string {
  const url = new URL(nodeUrl);
  url.searchParams.set('user', params.user);
  if (params.token !== undefined) url.searchParams.set('token', params.token);
  if (params.epoch !== undefined) url.searchParams.set('epoch', String(params.epoch));
  if (params.unreachable?.length) url.searchParams.set('unreachable', params.unreachable.join(','));
  if (params.last !== undefined) url.searchParams.set('last', String(params.last));
  if (params.session !== undefined) url.searchParams.set('session', params.session);
  return url.toString();
}

/** Read ConnectParams back from a request URL (path and query). Missing user gives ''. */
export function parseConnectParams(search: URLSearchParams): ConnectParams {
  const num = (k: string) => {
    const v = search.get(k);
    if (v === null || v === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const unreachable = search.get('unreachable');
  return {
    user: search.get('user') ?? '',
    token: search.get('token') ?? undefined,
    epoch: num('epoch'),
    unreachable: unreachable ? unreachable.split(',').filter(Boolean) : undefined,
    last: num('last'),
    session: search.get('session') ?? undefined,
  };
}
