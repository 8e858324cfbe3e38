// The client's state machine as an explicit transition table. Pure: it reads inputs and returns the next state
// and the effects to run (open a socket, fetch the topology, schedule a retry, emit an event); client.ts runs them.
import { ClientError } from './errors.js';
import { initialPosition, judgeCheckpoint, judgeGap, judgeMessage, judgeSynced, type Position } from './delivery.js';
import { CloseCode, TERMINAL_CLOSE_CODES, type ClientFrame, type ReconnectFrame, type RedirectFrame, type ServerFrame } from '@wsring/protocol';
import { sameUrl } from './topology.js';
import type { ClientEvents, ClientState, LoadedTopology, MoveReason } from './types.js';

/** The longest wait between two confirming refetches of one move, however many retries are configured. */
const MAX_MOVE_CONFIRM_WAIT_MS = 30_000;

export interface MachineConfig {
  user: string;
  failoverDepth: number;
  maxRedirects: number;
  /** How far ahead of the client's epoch a move frame may be and still be followed without a refetch. */
  maxEpochLead: number;
  /** The token comes from a function, so a TOKEN_EXPIRED close can be answered with a fresh one. */
  refreshableToken: boolean;
  /**
   * An open client asked to move somewhere its refetched topology does not confirm (yet) refetches it again this
   * many times before it drops the move, waiting `moveConfirmDelayMs` x 2^k before the k-th (from 0): the bootstrap
   * node it asked may not have applied the change yet (a handoff's successor URL, a settle window away).
   */
  moveConfirmRetries: number;
  moveConfirmDelayMs: number;
}

export interface Context {
  readonly config: MachineConfig;
  readonly topology?: LoadedTopology;
  /** The node of the socket that is opening or open. */
  readonly target?: string;
  /** The URL of the socket that is opening or open. */
  readonly targetUrl?: string;
  /** The node the client was last welcomed by. */
  readonly current?: string;
  /** The node being left and why; reported as `moved` when another node welcomes the client. */
  readonly leaving?: { from: string; reason: MoveReason };
  /** Nodes found unreachable since the last welcome; sent to the next node so it accepts a stand-in. */
  readonly unreachable: readonly string[];
  /** Failed attempts since the last welcome; drives the backoff. */
  readonly attempt: number;
  /** Redirects followed since the last welcome; bounds redirect loops between disagreeing nodes. */
  readonly redirects: number;
  /** The next attempt must refetch the topology first. */
  readonly needTopology: boolean;
  /** A `/topology` fetch is in flight (fetches are never doubled). */
  readonly fetching: boolean;
  /** A move to a node the topology did not list, waiting for the refetched topology to confirm it. */
  readonly pendingMove?: PendingMove;
  /** Delivery position: the highest message position received, and whether a `resume` is out (see delivery.ts). */
  readonly position: Position;
  /** The open node announced it restarts in place: come back to it after this delay (ms) once it closes 4005. */
  readonly restartAfterMs?: number;
  /** This client's session id, given by the first node that welcomed it; kept across reconnects and moves. */
  readonly session?: string;
  /** The user id the last welcoming node admitted this client for. */
  readonly user?: string;
  /** A reconnect frame with a delay: where to go once the retry timer fires (see `deferMove`). */
  readonly deferred?: { move: PendingMove; url: string };
}

/** Where a reconnect or redirect frame sends the client, and what it says about the sender. */
interface PendingMove {
  node: string;
  url: string;
  from: string;
  reason: MoveReason;
  /** The frame's epoch: the target decides with it whether the client is ahead of it (docs/protocol.md, section 2). */
  epoch: number;
  /** A capacity redirect: the sender goes on the unreachable list so the target takes the client as a stand-in. */
  full: boolean;
  /** A reconnect frame's `delayMs`: the sender's slot for this client at the receiver, kept if the move waits for a refetch. */
  delayMs?: number;
  /** Refetches that have not confirmed it so far (see `MachineConfig.moveConfirmRetries`). */
  refetched?: number;
}

/**
 * A reconnect or redirect frame. When it carried a topology the client may trust (signed by the fleet's key),
 * client.ts has verified and loaded it first (async): `inline` is the loaded topology, or the error that rejected
 * it. An inline topology the client cannot check (no key) never reaches the machine.
 */
export type MoveFrameInput = (ReconnectFrame | RedirectFrame) & { inline?: LoadedTopology | ClientError };

export type Input =
  | Exclude<ServerFrame, ReconnectFrame | RedirectFrame>
  | MoveFrameInput
  | { type: 'topology-loaded'; topology: LoadedTopology }
  | { type: 'topology-failed'; error: ClientError }
  | { type: 'bad-frame'; error: Error }
  | { type: 'socket-closed'; code: number; reason: string }
  | { type: 'connect-timeout' }
  /** An open connection stayed silent through a whole ping interval after a ping (see client.ts). */
  | { type: 'ping-timeout' }
  | { type: 'token-failed'; error: unknown }
  | { type: 'retry-timer' }
  /** Time to refetch the topology for a move waiting to be confirmed (see `schedule-confirm`). */
  | { type: 'confirm-timer' }
  | { type: 'close'; code: number; reason: string };

type Emit = { [K in keyof ClientEvents]: { type: 'emit'; event: K; payload: ClientEvents[K] } }[keyof ClientEvents];

export type Effect =
  | { type: 'fetch-topology' }
  | { type: 'open-socket'; node: string; url: string; unreachable: string[]; epoch: number | undefined }
  | { type: 'close-socket'; code: number; reason: string }
  /** Wait before the next attempt: `delayMs` when given (a restart's own delay), else the backoff for `attempt`. */
  | { type: 'schedule-retry'; attempt: number; delayMs?: number }
  | { type: 'cancel-retry' }
  /** Refetch the topology for the pending move after `delayMs` (an open client's socket stays meanwhile). */
  | { type: 'schedule-confirm'; delayMs: number }
  /** Send a protocol frame on the current socket (if it is open). */
  | { type: 'send'; frame: ClientFrame }
  | Emit;

export interface Step {
  state: ClientState;
  ctx: Context;
  effects: Effect[];
}

type Handler<I extends Input> = (ctx: Context, input: I, state: ClientState) => Step;
type Row = { [T in Input['type']]?: Handler<Extract<Input, { type: T }>> };

export function initialContext(config: MachineConfig, last?: number): Context {
  return { config, unreachable: [], attempt: 0, redirects: 0, needTopology: true, fetching: false, position: initialPosition(last) };
}

/** The first step: fetch the topology. */
export function start(ctx: Context): Step {
  return { state: 'bootstrapping', ctx: { ...ctx, fetching: true }, effects: [{ type: 'fetch-topology' }] };
}

const emit = <K extends keyof ClientEvents>(event: K, payload: ClientEvents[K]): Effect => ({ type: 'emit', event, payload }) as Effect;

// ---- helpers shared by several rows ----

/**
 * Keep the newer of two trusted topologies: a lagging bootstrap node must not roll the client back. Only
 * trusted topologies get here (fetched from the bootstrap URLs, or signed by the fleet), so a forged epoch never does.
 */
function adopt(ctx: Context, loaded: LoadedTopology): Context {
  const newer = !ctx.topology || loaded.topology.epoch >= ctx.topology.topology.epoch;
  return { ...ctx, topology: newer ? loaded : ctx.topology, fetching: false, needTopology: false };
}

/** The URL of `node` if the topology lists it under `url`. */
function knownUrl(ctx: Context, node: string, url: string): string | undefined {
  const known = ctx.topology?.urls.get(node);
  return known !== undefined && sameUrl(known, url) ? known : undefined;
}

function fetchIfIdle(ctx: Context): { ctx: Context; effects: Effect[] } {
  return ctx.fetching ? { ctx, effects: [] } : { ctx: { ...ctx, fetching: true }, effects: [{ type: 'fetch-topology' }] };
}

/** Back off before the next attempt. */
function retry(ctx: Context, needTopology: boolean, extra: Effect[] = []): Step {
  const attempt = ctx.attempt + 1;
  return {
    state: 'reconnecting',
    ctx: { ...ctx, attempt, target: undefined, needTopology: ctx.needTopology || needTopology },
    effects: [...extra, { type: 'schedule-retry', attempt }],
  };
}

/** Connect to the first node of the user's preference list not found unreachable; back off when none is left. */
function connectToOwner(ctx: Context, extra: Effect[] = []): Step {
  const { topology } = ctx;
  if (!topology) return bootstrap(ctx, extra);
  const prefs = topology.ring.owners(ctx.config.user, ctx.config.failoverDepth);
  const next = prefs.find((id) => !ctx.unreachable.includes(id));
  if (next === undefined) return retry({ ...ctx, unreachable: [] }, true, extra);
  const url = topology.urls.get(next) as string;
  return {
    state: 'connecting',
    ctx: { ...ctx, target: next, targetUrl: url },
    effects: [
      ...extra,
      { type: 'open-socket', node: next, url, unreachable: ctx.unreachable.filter((id) => prefs.includes(id)), epoch: topology.topology.epoch },
    ],
  };
}

function bootstrap(ctx: Context, extra: Effect[] = []): Step {
  const fetch = fetchIfIdle(ctx);
  return { state: 'bootstrapping', ctx: { ...fetch.ctx, target: undefined }, effects: [...extra, ...fetch.effects] };
}

/**
 * Follow a reconnect or redirect frame to a node the topology lists (`url` is the topology's). A redirect
 * continues the current connect attempt, so the nodes found unreachable so far go along, plus the sender if it
 * was full; a reconnect starts afresh under a new topology. The frame's epoch goes along too.
 */
function moveTo(ctx: Context, move: PendingMove, url: string, extra: Effect[] = []): Step {
  const { node, from, reason } = move;
  let unreachable: string[] = [];
  if (reason === 'redirect') {
    unreachable = ctx.unreachable.filter((id) => id !== node);
    if (move.full && !unreachable.includes(from)) unreachable.push(from);
  }
  const epoch = claimedEpoch(ctx, move.epoch);
  return {
    state: 'moving',
    ctx: { ...ctx, target: node, targetUrl: url, leaving: ctx.leaving ?? { from, reason }, pendingMove: undefined, unreachable },
    effects: [...extra, { type: 'close-socket', code: CloseCode.NORMAL, reason }, { type: 'open-socket', node, url, unreachable: [...unreachable], epoch }],
  };
}

/** The epoch of the client's trusted topology. */
const verifiedEpoch = (ctx: Context): number => ctx.topology?.topology.epoch ?? 0;

/** Whether a frame's epoch is close enough to the client's to be followed without confirming it first. */
const withinLead = (ctx: Context, epoch: number): boolean => ctx.topology !== undefined && epoch <= verifiedEpoch(ctx) + ctx.config.maxEpochLead;

/**
 * The epoch a client tells the node it moves to: the frame's, when within the lead of its own (the target may
 * be about to apply it, docs/protocol.md section 2), else its own. A forged frame cannot make it claim more.
 */
const claimedEpoch = (ctx: Context, frameEpoch: number): number => (withinLead(ctx, frameEpoch) ? Math.max(frameEpoch, verifiedEpoch(ctx)) : verifiedEpoch(ctx));
/**
 * A reconnect frame with `delayMs`: leave now, connect to the target once the delay has passed (the sender spread
 * its users' delays so they arrive within the receivers' accept rates).
 */
function deferMove(ctx: Context, move: PendingMove, url: string, delayMs: number, extra: Effect[] = []): Step {
  return {
    state: 'reconnecting',
    ctx: { ...ctx, target: undefined, leaving: ctx.leaving ?? { from: move.from, reason: move.reason }, pendingMove: undefined, deferred: { move, url } },
    effects: [...extra, { type: 'close-socket', code: CloseCode.NORMAL, reason: 'moving after a delay' }, { type: 'schedule-retry', attempt: ctx.attempt, delayMs }],
  };
}

/**
 * Follow a move now, or after its frame's delay: also when the move first waited for the bootstrap URLs to confirm
 * it, so users the sender spread over time do not arrive together when one refetch confirms them all.
 */
function follow(ctx: Context, move: PendingMove, url: string, extra: Effect[] = []): Step {
  return move.delayMs !== undefined && move.delayMs > 0 ? deferMove(ctx, move, url, move.delayMs, extra) : moveTo(ctx, move, url, extra);
}

function closed(code: number, reason: string, effects: Effect[]): Step['effects'] {
  return [...effects, { type: 'cancel-retry' }, emit('close', { code, reason })];
}

// ---- handlers ----

const closeByApp: Handler<Extract<Input, { type: 'close' }>> = (ctx, input) => ({
  state: 'closed',
  ctx,
  effects: closed(input.code, input.reason, [{ type: 'close-socket', code: input.code, reason: input.reason }]),
});

/** Stay in `state`. */
const same = (state: ClientState, ctx: Context, effects: Effect[] = []): Step => ({ state, ctx, effects });
const ignore = (ctx: Context, _input: Input, state: ClientState): Step => same(state, ctx);
const adoptOnly: Handler<Extract<Input, { type: 'topology-loaded' }>> = (ctx, input, state) => same(state, adopt(ctx, input.topology));
const fetchDone: Handler<Extract<Input, { type: 'topology-failed' }>> = (ctx, _input, state) => same(state, { ...ctx, fetching: false });

const withPosition = (ctx: Context, position: Position): Context => ({ ...ctx, position });

const onMessage: Handler<Extract<Input, { type: 'message' }>> = (ctx, frame, state) => {
  const { position, verdict } = judgeMessage(ctx.position, frame);
  const next = withPosition(ctx, position);
  if (verdict === 'deliver') return same(state, next, [emit('message', frame.data)]);
  if (verdict === 'resume') return same(state, next, [{ type: 'send', frame: { type: 'resume', last: position.last as number } }]);
  return same(state, next);
};

const onGap: Handler<Extract<Input, { type: 'gap' }>> = (ctx, frame, state) => {
  const judged = judgeGap(ctx.position, frame);
  if (!judged) return same(state, ctx);
  return same(state, withPosition(ctx, judged.position), [emit('gap', { recovered: false, ...judged.lost, certain: frame.certain })]);
};

const onSynced: Handler<Extract<Input, { type: 'synced' }>> = (ctx, frame, state) => same(state, withPosition(ctx, judgeSynced(ctx.position, frame)));

const onCheckpoint: Handler<Extract<Input, { type: 'checkpoint' }>> = (ctx, frame, state) =>
  same(state, withPosition(ctx, judgeCheckpoint(ctx.position, frame)));

const onServerError: Handler<Extract<Input, { type: 'error' }>> = (ctx, frame, state) =>
  same(state, ctx, [emit('error', new ClientError('SERVER_ERROR', `node reported ${frame.code}: ${frame.message}`))]);

const onBadFrame: Handler<Extract<Input, { type: 'bad-frame' }>> = (ctx, input, state) =>
  same(state, ctx, [emit('error', new ClientError('BAD_FRAME', `undecodable frame from node: ${input.error.message}`, { cause: input.error }))]);

/**
 * Whether the topology inside a move frame may be trusted and sends the client to the frame's target: it must be
 * the one the frame names (same fingerprint, computed from the ring itself), not older than the client's, and
 * list the target among the user's first `failoverDepth` nodes under the URL the frame gives. Returns the URL to
 * open, or why not (`stale`: an older topology, not an error; the client simply keeps its own).
 */
function judgeInline(ctx: Context, frame: MoveFrameInput, loaded: LoadedTopology): { url: string } | { stale: true } | { rejected: string } {
  const { ring, topology } = loaded;
  if (ring.fingerprint !== frame.fingerprint || topology.fingerprint !== frame.fingerprint) return { rejected: 'its ring does not match the frame fingerprint' };
  if (topology.epoch !== frame.epoch) return { rejected: `its epoch ${topology.epoch} is not the frame epoch ${frame.epoch}` };
  if (ctx.topology && topology.epoch < ctx.topology.topology.epoch) return { stale: true };
  const prefs = ring.owners(ctx.config.user, Math.min(ring.nodes.length, ctx.config.failoverDepth));
  if (!prefs.includes(frame.node)) return { rejected: `${frame.node} is not among the user's first ${prefs.length} nodes under it` };
  const url = loaded.urls.get(frame.node) as string;
  if (!sameUrl(url, frame.url)) return { rejected: `it lists ${frame.node} under another URL` };
  return { url };
}

/** Use a topology carried by a move frame if it passes `judgeInline`; else say why (and fall back to the usual path). */
function inlineMove(ctx: Context, frame: MoveFrameInput): { ctx: Context; url: string } | { error?: ClientError } {
  const inline = frame.inline;
  if (inline === undefined) return {};
  const what = `the topology inside a ${frame.type} frame to ${frame.node}`;
  if (inline instanceof ClientError) {
    const code = inline.code === 'UNTRUSTED_TOPOLOGY' || inline.code === 'BAD_KEY' ? inline.code : 'BAD_TOPOLOGY';
    return { error: new ClientError(code, `ignored ${what}: ${inline.message}`, { cause: inline }) };
  }
  const verdict = judgeInline(ctx, frame, inline);
  if ('url' in verdict) return { ctx: { ...ctx, topology: inline, needTopology: false }, url: verdict.url };
  if ('stale' in verdict) return {};
  return { error: new ClientError('BAD_TOPOLOGY', `ignored ${what}: ${verdict.rejected}`) };
}

/** A reconnect or redirect frame, in any state with a socket. */
const onMoveFrame: Handler<Extract<Input, { type: 'reconnect' | 'redirect' }>> = (ctx, frame, state) => {
  const from = ctx.target ?? ctx.current ?? frame.node;
  const reason: MoveReason = frame.type === 'reconnect' ? 'reconnect' : 'redirect';
  // A move to the node the client is on is no move, unless it names another URL: the node's process hands its
  // users to its successor (a handoff deploy, docs/operations.md), which serves the same node id elsewhere.
  if (frame.node === from && !handoff(ctx, frame)) return same(state, ctx);
  const welcomed = state === 'open';
  if (!welcomed && ctx.redirects >= ctx.config.maxRedirects) {
    return retry(ctx, true, [
      { type: 'close-socket', code: CloseCode.NORMAL, reason: 'too many redirects' },
      emit('error', new ClientError('REDIRECT_LOOP', `more than ${ctx.config.maxRedirects} redirects in a row; refetching the topology`)),
    ]);
  }
  const counted = welcomed ? ctx : { ...ctx, redirects: ctx.redirects + 1 };
  const delayMs = frame.type === 'reconnect' ? (frame.delayMs ?? 0) : 0;
  const pendingMove: PendingMove = { node: frame.node, url: frame.url, from, reason, epoch: frame.epoch, full: frame.type === 'redirect' && frame.reason === 'capacity', ...(delayMs > 0 ? { delayMs } : {}) };
  // The frame brought the sender's topology: adopt it and go, no fetch.
  const inline = inlineMove(counted, frame);
  if ('url' in inline) return follow(inline.ctx, pendingMove, inline.url);
  const reported: Effect[] = inline.error ? [emit('error', inline.error)] : [];
  // A node the trusted topology lists under this URL, at a plausible epoch: follow now. The token only ever goes
  // to nodes a trusted topology lists; anything else waits for the bootstrap URLs to confirm it.
  const url = withinLead(ctx, frame.epoch) ? knownUrl(ctx, frame.node, frame.url) : undefined;
  if (url !== undefined) {
    // The sender knows a newer topology: follow now, and refresh ours in the background.
    if (frame.epoch > verifiedEpoch(ctx)) {
      const fetch = fetchIfIdle(counted);
      return follow(fetch.ctx, pendingMove, url, [...reported, ...fetch.effects]);
    }
    return follow(counted, pendingMove, url, reported);
  }
  // Unknown node (or an epoch too far ahead): refetch the topology once and decide then. An open socket keeps serving meanwhile;
  // a socket that has not been welcomed is about to be closed by the node, so let it go.
  if (welcomed) {
    const fetch = fetchIfIdle({ ...counted, pendingMove });
    return same(state, fetch.ctx, [...reported, ...fetch.effects]);
  }
  return bootstrap({ ...counted, pendingMove }, [...reported, { type: 'close-socket', code: CloseCode.NORMAL, reason: 'unknown node' }]);
};

/** A move frame naming the client's own node under a URL other than the one its socket went to. */
function handoff(ctx: Context, frame: MoveFrameInput): boolean {
  const known = ctx.targetUrl ?? ctx.topology?.urls.get(frame.node);
  return known !== undefined && !sameUrl(known, frame.url);
}

const onWelcome: Handler<Extract<Input, { type: 'welcome' }>> = (ctx, frame) => {
  // The node authenticated someone else (a token of another user): nothing here is this client's to read.
  if (frame.user !== undefined && frame.user !== ctx.config.user) {
    const error = new ClientError('USER_MISMATCH', `${frame.node} authenticated the connection as ${JSON.stringify(frame.user)}, not ${JSON.stringify(ctx.config.user)}`);
    return { state: 'closed', ctx, effects: closed(CloseCode.NORMAL, 'user mismatch', [{ type: 'close-socket', code: CloseCode.NORMAL, reason: 'user mismatch' }, emit('error', error)]) };
  }
  const effects: Effect[] = [];
  const from = ctx.leaving?.from ?? ctx.current;
  if (from !== undefined && from !== frame.node) effects.push(emit('moved', { from, to: frame.node, reason: ctx.leaving?.reason ?? 'failover' }));
  const session = frame.session ?? ctx.session;
  const user = frame.user ?? ctx.config.user;
  effects.push(emit('open', { node: frame.node, epoch: frame.epoch, standIn: frame.standIn === true, user, ...(session === undefined ? {} : { session }) }));
  // A new socket replays from the last position by itself, so a resume sent on an older one no longer matters.
  let next: Context = {
    ...ctx,
    current: frame.node,
    target: frame.node,
    leaving: undefined,
    unreachable: [],
    attempt: 0,
    redirects: 0,
    position: { ...ctx.position, resuming: false },
    session,
    user,
  };
  // The node knows a newer topology than ours: refresh in the background, the connection stays.
  if (!ctx.topology || frame.epoch > ctx.topology.topology.epoch) {
    const fetch = fetchIfIdle(next);
    next = fetch.ctx;
    effects.push(...fetch.effects);
  }
  return { state: 'open', ctx: next, effects };
};

/** Whether a close ends the client: a terminal code, or an expired token it has no way to renew. */
const isFinal = (ctx: Context, code: number): boolean => TERMINAL_CLOSE_CODES.has(code) || (code === CloseCode.TOKEN_EXPIRED && !ctx.config.refreshableToken);

/** The socket closed (or never opened) before a welcome. */
const onConnectFailed = (ctx: Context, code: number, reason: string): Step => {
  if (isFinal(ctx, code)) return { state: 'closed', ctx, effects: closed(code, reason, []) };
  // An expired token says nothing about the node: back off and come back with a fresh token, no failover.
  if (code === CloseCode.TOKEN_EXPIRED) return retry({ ...ctx, target: undefined }, false);
  if (code === CloseCode.OVER_CAPACITY) return retry(ctx, false);
  const failed = ctx.target;
  if (failed === undefined) return retry(ctx, false);
  return connectToOwner({
    ...ctx,
    target: undefined,
    unreachable: ctx.unreachable.includes(failed) ? ctx.unreachable : [...ctx.unreachable, failed],
    leaving: ctx.leaving ?? { from: ctx.current ?? failed, reason: 'failover' },
  });
};

// Close codes after which the topology has likely changed, so the next attempt refetches it first.
const TOPOLOGY_CHANGING_CODES: ReadonlySet<number> = new Set([CloseCode.GOING_AWAY, CloseCode.MOVED, CloseCode.DRAINING, CloseCode.REDIRECT]);

/** Leaving the node the client is open on without being sent anywhere: whoever welcomes it next reports a failover from it. */
const lost = (ctx: Context): Context => ({
  ...ctx,
  target: undefined,
  pendingMove: undefined,
  leaving: ctx.leaving ?? (ctx.current === undefined ? undefined : { from: ctx.current, reason: 'failover' }),
});

const onDrop: Handler<Extract<Input, { type: 'socket-closed' }>> = (ctx, input) => {
  if (isFinal(ctx, input.code)) return { state: 'closed', ctx, effects: closed(input.code, input.reason, []) };
  if (input.code === CloseCode.RESTARTING) return comeBack(ctx);
  return retry({ ...lost(ctx), restartAfterMs: undefined }, TOPOLOGY_CHANGING_CODES.has(input.code));
};

/**
 * The node restarts in place: the same node, the same topology, after the delay it gave (a delay of its own per
 * client, so they arrive within its accept rate). Not a failover: nothing is reported unreachable, and coming back
 * to it is no move. If it is not back by then, the usual backoff and failover follow.
 */
function comeBack(ctx: Context): Step {
  const delayMs = ctx.restartAfterMs;
  const attempt = ctx.attempt + 1;
  return {
    state: 'reconnecting',
    ctx: { ...ctx, attempt, target: undefined, pendingMove: undefined, restartAfterMs: undefined },
    effects: [{ type: 'schedule-retry', attempt, ...(delayMs === undefined ? {} : { delayMs }) }],
  };
}

// ---- the table: one row per state; an input a row does not list is ignored in that state ----

const socketRow: Row = {
  welcome: onWelcome,
  reconnect: onMoveFrame,
  redirect: onMoveFrame,
  message: onMessage,
  gap: onGap,
  synced: onSynced,
  checkpoint: onCheckpoint,
  error: onServerError,
  pong: ignore,
  restart: (ctx, frame, state) => same(state, { ...ctx, restartAfterMs: frame.retryAfterMs }),
  'bad-frame': onBadFrame,
  'socket-closed': (ctx, input) => onConnectFailed(ctx, input.code, input.reason),
  'connect-timeout': (ctx) => onConnectFailed(ctx, 1006, 'no welcome before the connect timeout'),
  'token-failed': (ctx, input) =>
    retry({ ...ctx, target: undefined }, false, [emit('error', new ClientError('TOKEN_FAILED', 'the token function failed', { cause: input.error }))]),
  'topology-loaded': adoptOnly,
  'topology-failed': fetchDone,
  close: closeByApp,
};

export const transitions: Readonly<Record<ClientState, Row>> = {
  bootstrapping: {
    'topology-loaded': (ctx, input) => {
      const next = adopt(ctx, input.topology);
      const pending = next.pendingMove;
      if (pending) {
        const url = knownUrl(next, pending.node, pending.url);
        if (url !== undefined) return follow(next, pending, url);
        return connectToOwner({ ...next, pendingMove: undefined }, [emit('error', unknownNode(pending))]);
      }
      return connectToOwner(next);
    },
    'topology-failed': (ctx, input) => retry({ ...ctx, fetching: false, pendingMove: undefined }, true, [emit('error', input.error)]),
    close: closeByApp,
  },
  connecting: socketRow,
  moving: socketRow,
  open: {
    ...socketRow,
    welcome: ignore,
    'socket-closed': onDrop,
    'connect-timeout': ignore,
    'token-failed': ignore,
    // A half-open connection (the node's host vanished without a FIN): leave it and reconnect with backoff.
    'ping-timeout': (ctx) => retry(lost(ctx), false, [{ type: 'close-socket', code: CloseCode.NORMAL, reason: 'no answer to ping' }]),
    'topology-loaded': (ctx, input, state) => {
      const next = adopt(ctx, input.topology);
      const pending = next.pendingMove;
      if (!pending) return same(state, next);
      const url = knownUrl(next, pending.node, pending.url);
      if (url !== undefined) return follow(next, pending, url);
      return unconfirmed(next, pending, state);
    },
    'topology-failed': (ctx, input, state) => {
      const next = { ...ctx, fetching: false };
      return ctx.pendingMove ? unconfirmed(next, ctx.pendingMove, state, input.error) : same(state, next);
    },
    'confirm-timer': (ctx, _input, state) => {
      if (!ctx.pendingMove) return same(state, ctx);
      const fetch = fetchIfIdle(ctx);
      return same(state, fetch.ctx, fetch.effects);
    },
  },
  reconnecting: {
    'retry-timer': (ctx) => {
      if (ctx.deferred) return moveTo({ ...ctx, deferred: undefined }, ctx.deferred.move, ctx.deferred.url);
      return ctx.needTopology || !ctx.topology ? bootstrap(ctx) : connectToOwner(ctx);
    },
    'topology-loaded': adoptOnly,
    'topology-failed': fetchDone,
    close: closeByApp,
  },
  closed: {},
};

/**
 * The refetched topology does not confirm the pending move (or the fetch failed). The bootstrap node asked may lag
 * the sender by a settle window (a handoff's successor URL reaches every agent about then): ask again, up to
 * `moveConfirmRetries` times with doubling waits, the socket serving meanwhile; then drop the move, said as an error.
 * The sender's grace close (`4003 MOVED`) still ends the socket if the move was real and never confirmed.
 */
function unconfirmed(ctx: Context, pending: PendingMove, state: ClientState, cause?: unknown): Step {
  const tries = pending.refetched ?? 0;
  if (tries < ctx.config.moveConfirmRetries) {
    return same(state, { ...ctx, pendingMove: { ...pending, refetched: tries + 1 } }, [{ type: 'schedule-confirm', delayMs: Math.min(MAX_MOVE_CONFIRM_WAIT_MS, ctx.config.moveConfirmDelayMs * 2 ** tries) }]);
  }
  return same(state, { ...ctx, pendingMove: undefined }, [emit('error', unknownNode(pending, cause))]);
}

function unknownNode(move: { node: string; url: string }, cause?: unknown): ClientError {
  return new ClientError('UNKNOWN_NODE', `ignored a move to ${move.node} (${move.url}): not in the topology, even refetched`, { cause });
}

/** Apply one input. Returns undefined when the current state ignores it. */
export function transition(state: ClientState, ctx: Context, input: Input): Step | undefined {
  const handler = transitions[state][input.type] as Handler<Input> | undefined;
  if (!handler) return undefined;
  return handler(ctx, input, state);
}
