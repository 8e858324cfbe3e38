// Runs the state machine: owns the socket, the timers and the fetches, and turns their events into inputs.
import { backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { Emitter } from './emitter.js';
import { ClientError } from './errors.js';
import { initialContext, start, transition, type Context, type Effect, type Input } from './machine.js';
import { CloseCode, connectUrl, decodeBase64, decodeServerFrame, encodeFrame, isValidUserId, MAX_USER_ID_LENGTH, type TopologyPublicKey } from '@wsring/protocol';
import { fetchTopology, loadTopology } from './topology.js';
import { importKeySet } from './topology-cache.js';
import type { ClientEvents, ClientOptions, ClientState, Clock, FetchLike, WebSocketConstructor, WebSocketLike, WsringClient } from './types.js';

export const DEFAULT_FAILOVER_DEPTH = 3;
export const DEFAULT_MAX_REDIRECTS = 3;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_PING_INTERVAL_MS = 25_000;
export const DEFAULT_FETCH_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_EPOCH_LEAD = 16;
export const DEFAULT_MOVE_CONFIRM_RETRIES = 4;
export const DEFAULT_MOVE_CONFIRM_DELAY_MS = 250;

const OPEN = 1;

interface Settings {
  user: string;
  token: ClientOptions['token'];
  bootstrap: string[];
  WebSocket: WebSocketConstructor;
  fetch: FetchLike;
  baseMs: number;
  capMs: number;
  failoverDepth: number;
  maxRedirects: number;
  connectTimeoutMs: number;
  pingIntervalMs: number;
  fetchTimeoutMs: number;
  maxEpochLead: number;
  moveConfirmRetries: number;
  moveConfirmDelayMs: number;
  /** The fleet's topology keys, being imported; none: only topologies fetched from `bootstrap` are trusted. */
  topologyKeys: Promise<readonly CryptoKey[]> | undefined;
  random: () => number;
  clock: Clock;
  last: number | undefined;
}

function invalid(message: string): ClientError {
  return new ClientError('INVALID_OPTION', message);
}

function positive(name: string, value: number | undefined, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw invalid(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  return value;
}

function settings(options: ClientOptions): Settings {
  if (options === null || typeof options !== 'object') throw invalid('options must be an object');
  if (!isValidUserId(options.user)) {
    throw new ClientError('INVALID_USER', `user must be 1 to ${MAX_USER_ID_LENGTH} UTF-16 code units of well-formed text (no unpaired surrogate), got ${JSON.stringify(options.user)}`);
  }
  if (!Array.isArray(options.bootstrap) || options.bootstrap.length === 0) throw invalid('bootstrap must be a non-empty array of URLs');
  for (const url of options.bootstrap) {
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw invalid(`bootstrap URL ${JSON.stringify(url)} is not a URL`);
    }
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(protocol)) throw invalid(`bootstrap URL ${url} must be http(s) or ws(s)`);
  }
  if (options.token !== undefined && typeof options.token !== 'string' && typeof options.token !== 'function') {
    throw invalid('token must be a string or a function');
  }
  const baseMs = positive('backoff.baseMs', options.backoff?.baseMs, DEFAULT_BACKOFF.baseMs);
  const capMs = positive('backoff.capMs', options.backoff?.capMs, DEFAULT_BACKOFF.capMs);
  if (capMs < baseMs) throw invalid(`backoff.capMs (${capMs}) must be >= backoff.baseMs (${baseMs})`);
  const failoverDepth = positive('failoverDepth', options.failoverDepth, DEFAULT_FAILOVER_DEPTH, true);
  const maxRedirects = positive('maxRedirects', options.maxRedirects, DEFAULT_MAX_REDIRECTS, true);
  const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
  const pingIntervalMs = positive('pingIntervalMs', options.pingIntervalMs, DEFAULT_PING_INTERVAL_MS);
  const fetchTimeoutMs = positive('fetchTimeoutMs', options.fetchTimeoutMs, DEFAULT_FETCH_TIMEOUT_MS);
  const maxEpochLead = positive('maxEpochLead', options.maxEpochLead, DEFAULT_MAX_EPOCH_LEAD, true);
  const moveConfirmRetries = options.moveConfirmRetries === 0 ? 0 : positive('moveConfirmRetries', options.moveConfirmRetries, DEFAULT_MOVE_CONFIRM_RETRIES, true);
  const moveConfirmDelayMs = positive('moveConfirmDelayMs', options.moveConfirmDelayMs, DEFAULT_MOVE_CONFIRM_DELAY_MS);
  const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof WebSocketImpl !== 'function') {
    throw new ClientError('NO_WEBSOCKET', 'no global WebSocket: pass options.WebSocket (for example `import { WebSocket } from "ws"`)');
  }
  if (options.last !== undefined && !(Number.isSafeInteger(options.last) && options.last >= 0)) {
    throw invalid(`last must be a non-negative integer, got ${String(options.last)}`);
  }
  const fetchImpl = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch?.bind(globalThis);
  if (typeof fetchImpl !== 'function') throw new ClientError('NO_FETCH', 'no global fetch: pass options.fetch');
  return {
    user: options.user,
    token: options.token,
    bootstrap: [...options.bootstrap],
    WebSocket: WebSocketImpl,
    fetch: fetchImpl,
    baseMs,
    capMs,
    failoverDepth,
    maxRedirects,
    connectTimeoutMs,
    pingIntervalMs,
    fetchTimeoutMs,
    maxEpochLead,
    moveConfirmRetries,
    moveConfirmDelayMs,
    topologyKeys: topologyKeysOf(options.topologyKey),
    random: options.random ?? Math.random,
    last: options.last,
    clock: clockOf(options),
  };
}

/** A key as `topologyKey` takes it, checked as far as can be done synchronously (WebCrypto imports are async). */
function looksLikeKey(key: unknown): key is TopologyPublicKey {
  if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) return true;
  if (key instanceof Uint8Array) return key.length === 32;
  if (typeof key !== 'string') return false;
  return key.includes('-----BEGIN PUBLIC KEY-----') || decodeBase64(key.trim())?.length === 32;
}

/** Import the fleet's keys once, up front (once per runtime for keys given as text); every topology check awaits the same promise. */
function topologyKeysOf(option: ClientOptions['topologyKey']): Promise<readonly CryptoKey[]> | undefined {
  if (option === undefined) return undefined;
  const keys = Array.isArray(option) ? option : [option];
  if (keys.length === 0 || !keys.every(looksLikeKey)) {
    throw invalid('topologyKey must be an Ed25519 public key (32 raw bytes, their base64, an SPKI PEM or a CryptoKey), or a non-empty array of them');
  }
  return importKeySet(keys);
}

const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

const hasMethods = (x: unknown, names: string[]): boolean =>
  typeof x === 'object' && x !== null && names.every((name) => typeof (x as Record<string, unknown>)[name] === 'function');

/** The `clock` option, or the deprecated `timers` one completed with the system time. */
function clockOf(options: ClientOptions): Clock {
  const { clock, timers } = options;
  if (clock !== undefined && timers !== undefined) throw invalid('pass clock or timers (deprecated), not both');
  if (clock !== undefined) {
    if (!hasMethods(clock, ['now', 'setTimeout', 'clearTimeout'])) throw invalid('clock must have now, setTimeout and clearTimeout');
    return clock;
  }
  if (timers !== undefined) {
    if (!hasMethods(timers, ['setTimeout', 'clearTimeout'])) throw invalid('timers must have setTimeout and clearTimeout');
    return { now: systemClock.now, setTimeout: (fn, ms) => timers.setTimeout(fn, ms), clearTimeout: (h) => timers.clearTimeout(h) };
  }
  return systemClock;
}

/** Create a client and start connecting: fetch the topology, place the user, open a socket to its node. */
export function createClient(options: ClientOptions): WsringClient {
  const s = settings(options);
  const events = new Emitter<ClientEvents>();
  let state: ClientState = 'bootstrapping';
  let ctx: Context = initialContext(
    { user: s.user, failoverDepth: s.failoverDepth, maxRedirects: s.maxRedirects, maxEpochLead: s.maxEpochLead, refreshableToken: typeof s.token === 'function', moveConfirmRetries: s.moveConfirmRetries, moveConfirmDelayMs: s.moveConfirmDelayMs },
    s.last,
  );

  let socket: WebSocketLike | undefined;
  // Every socket gets a generation; events from a socket that is no longer the current one are dropped.
  let generation = 0;
  let connectTimer: unknown;
  let retryTimer: unknown;
  let confirmTimer: unknown;
  // Keepalive of the open connection: a frame heard since the last tick, a ping out without an answer yet.
  let pingTimer: unknown;
  let heard = false;
  let pingOut = false;
  // Aborted by close(), so no fetch outlives the client.
  const stopFetches = new AbortController();

  // Inputs raised while effects run (a fake or synchronous socket) are queued, so transitions never nest.
  const queue: Input[] = [];
  let dispatching = false;

  function dispatch(input: Input): void {
    queue.push(input);
    if (dispatching) return;
    dispatching = true;
    try {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const step = transition(state, ctx, next);
        if (step) apply(step.state, step.ctx, step.effects);
      }
    } finally {
      dispatching = false;
    }
  }

  function apply(nextState: ClientState, nextCtx: Context, effects: Effect[]): void {
    const changed = nextState !== state;
    state = nextState;
    ctx = nextCtx;
    if (changed && state !== 'connecting' && state !== 'moving') clearConnectTimer();
    if (changed) (state === 'open' ? startKeepalive : stopKeepalive)();
    if (changed && state === 'closed') stopFetches.abort();
    if (changed) events.emit('state', state);
    for (const effect of effects) run(effect);
  }

  function run(effect: Effect): void {
    switch (effect.type) {
      case 'fetch-topology':
        fetchTopology(s.fetch, s.bootstrap, Math.floor(s.random() * s.bootstrap.length), s.fetchTimeoutMs, s.clock, stopFetches.signal, s.topologyKeys).then(
          (topology) => state !== 'closed' && dispatch({ type: 'topology-loaded', topology }),
          (error: unknown) =>
            state !== 'closed' &&
            dispatch({ type: 'topology-failed', error: error instanceof ClientError ? error : new ClientError('BOOTSTRAP_FAILED', String(error), { cause: error }) }),
        );
        return;
      case 'open-socket':
        openSocket(effect.url, effect.unreachable, effect.epoch);
        return;
      case 'close-socket':
        closeSocket(effect.code, effect.reason);
        return;
      case 'schedule-retry': {
        const delayMs = effect.delayMs ?? backoffDelay(effect.attempt, s.baseMs, s.capMs, s.random);
        clearRetryTimer();
        retryTimer = s.clock.setTimeout(() => {
          retryTimer = undefined;
          dispatch({ type: 'retry-timer' });
        }, delayMs);
        events.emit('reconnecting', { attempt: effect.attempt, delayMs });
        return;
      }
      case 'cancel-retry':
        clearRetryTimer();
        return;
      case 'schedule-confirm':
        clearConfirmTimer();
        confirmTimer = s.clock.setTimeout(() => {
          confirmTimer = undefined;
          dispatch({ type: 'confirm-timer' });
        }, effect.delayMs);
        return;
      case 'send':
        if (socket && socket.readyState === OPEN) socket.send(encodeFrame(effect.frame));
        return;
      case 'emit':
        events.emit(effect.event, effect.payload as never);
        return;
    }
  }

  function openSocket(url: string, unreachable: string[], epoch: number | undefined): void {
    closeSocket(CloseCode.NORMAL, 'replaced');
    const gen = ++generation;
    clearConnectTimer();
    connectTimer = s.clock.setTimeout(() => {
      if (gen !== generation) return;
      connectTimer = undefined;
      closeSocket(CloseCode.NORMAL, 'connect timeout');
      dispatch({ type: 'connect-timeout' });
    }, s.connectTimeoutMs);
    const withToken = (token: string | undefined) => {
      if (gen !== generation) return;
      // A reconnecting tab keeps its session id (and its own position): other tabs of the user are other sessions.
      const target = connectUrl(url, { user: s.user, token, epoch, unreachable, last: ctx.position.last, ...(ctx.session === undefined ? {} : { session: ctx.session }) });
      let ws: WebSocketLike;
      try {
        ws = new s.WebSocket(target);
      } catch {
        dispatch({ type: 'socket-closed', code: 1006, reason: 'could not open socket' });
        return;
      }
      socket = ws;
      // A socket's inputs are handled in arrival order. A move frame that carries a topology is loaded first
      // (async), and whatever arrives meanwhile on this socket (typically its close) waits behind it.
      let waiting = 0;
      let tail: Promise<void> = Promise.resolve();
      const deliver = (input: Input | Promise<Input>) => {
        if (waiting === 0 && !(input instanceof Promise)) {
          dispatch(input);
          return;
        }
        waiting++;
        tail = tail
          .then(() => input)
          .then((ready) => {
            waiting--;
            if (gen === generation) dispatch(ready);
          });
      };
      ws.onmessage = (event) => {
        if (gen !== generation) return;
        heard = true;
        if (typeof event.data !== 'string') {
          deliver({ type: 'bad-frame', error: new Error('binary frame') });
          return;
        }
        let input: Input;
        try {
          input = decodeServerFrame(event.data);
        } catch (error) {
          input = { type: 'bad-frame', error: error as Error };
        }
        deliver(withInlineTopology(input));
      };
      ws.onclose = (event) => {
        if (gen !== generation) return;
        socket = undefined;
        deliver({ type: 'socket-closed', code: event.code, reason: event.reason });
      };
      // A close event always follows an error event; `ws` throws on an error event nobody listens to.
      ws.onerror = () => {};
    };
    const token = s.token;
    if (typeof token !== 'function') {
      withToken(token);
      return;
    }
    Promise.resolve()
      .then(token)
      .then(withToken, (error: unknown) => gen === generation && dispatch({ type: 'token-failed', error }));
  }

  /**
   * A reconnect or redirect frame with a topology: without the fleet's key the client cannot tell the sender's
   * topology from a forged one, so it goes by its own (the frame is followed only to nodes it lists, or after a
   * refetch). With the key, verify and load it before the machine sees the frame.
   */
  function withInlineTopology(input: Input): Input | Promise<Input> {
    if ((input.type !== 'reconnect' && input.type !== 'redirect') || input.topology === undefined || s.topologyKeys === undefined) return input;
    return loadTopology(input.topology, s.topologyKeys).then(
      (inline) => ({ ...input, inline }),
      (error: unknown) => ({ ...input, inline: error instanceof ClientError ? error : new ClientError('BAD_TOPOLOGY', String(error), { cause: error }) }),
    );
  }

  function closeSocket(code: number, reason: string): void {
    generation++;
    const ws = socket;
    socket = undefined;
    if (!ws) return;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = () => {};
    try {
      ws.close(code, reason);
    } catch {
      // Browsers reject some codes; the socket is abandoned either way.
      ws.close();
    }
  }

  /**
   * While open, every `pingIntervalMs`: if nothing arrived since the last tick, send a ping; if a ping is already
   * out and still nothing arrived, the connection is dead (browsers cannot see TCP keepalives or ws pings).
   */
  function startKeepalive(): void {
    stopKeepalive();
    const tick = () => {
      pingTimer = undefined;
      if (state !== 'open') return;
      if (!heard && pingOut) {
        dispatch({ type: 'ping-timeout' });
        return;
      }
      if (!heard && socket?.readyState === OPEN) {
        socket.send(encodeFrame({ type: 'ping', ts: s.clock.now() }));
        pingOut = true;
      } else if (heard) pingOut = false;
      heard = false;
      pingTimer = s.clock.setTimeout(tick, s.pingIntervalMs);
    };
    heard = false;
    pingOut = false;
    pingTimer = s.clock.setTimeout(tick, s.pingIntervalMs);
  }

  function stopKeepalive(): void {
    if (pingTimer !== undefined) s.clock.clearTimeout(pingTimer);
    pingTimer = undefined;
  }

  function clearConnectTimer(): void {
    if (connectTimer !== undefined) s.clock.clearTimeout(connectTimer);
    connectTimer = undefined;
  }

  function clearRetryTimer(): void {
    if (retryTimer !== undefined) s.clock.clearTimeout(retryTimer);
    retryTimer = undefined;
  }

  function clearConfirmTimer(): void {
    if (confirmTimer !== undefined) s.clock.clearTimeout(confirmTimer);
    confirmTimer = undefined;
  }

  const initial = start(ctx);
  apply(initial.state, initial.ctx, initial.effects);

  return {
    get state() {
      return state;
    },
    get node() {
      return state === 'open' ? ctx.current : undefined;
    },
    get epoch() {
      return ctx.topology?.topology.epoch;
    },
    get position() {
      return ctx.position.last;
    },
    get sessionId() {
      return ctx.session;
    },
    get userId() {
      return ctx.user;
    },
    on: (event, listener) => events.on(event, listener),
    once: (event, listener) => events.once(event, listener),
    off: (event, listener) => events.off(event, listener),
    send(data) {
      if (state !== 'open' || !socket || socket.readyState !== OPEN) throw new ClientError('NOT_OPEN', `cannot send while ${state}`);
      if (data === undefined) throw new ClientError('BAD_DATA', 'data must be a JSON value, got undefined');
      let text: string;
      try {
        text = encodeFrame({ type: 'message', data });
      } catch (error) {
        throw new ClientError('BAD_DATA', 'data cannot be encoded as JSON', { cause: error });
      }
      socket.send(text);
    },
    close(code: number = CloseCode.NORMAL, reason = 'client closed') {
      if (state === 'closed') return;
      dispatch({ type: 'close', code, reason });
      clearConnectTimer();
      clearRetryTimer();
      clearConfirmTimer();
    },
  };
}
