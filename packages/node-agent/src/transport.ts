import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { CloseCode, ProtocolError, decodeClientFrame, encodeFrame, isValidUserId, parseConnectParams, type ConnectParams } from '@wsring/protocol';
import { AuthRejectedError, AuthUnavailableError } from './auth.js';
import type { ClientConnection } from './connections.js';
import type { AgentMetrics } from './metrics.js';
import type { Clock } from './clock.js';
import type { AdmissionGate } from './admission-gate.js';
import { TokenBucket } from './token-bucket.js';
import type { AuthIdentity, Authenticate, Logger } from './types.js';

export interface TransportOptions {
  authenticate: Authenticate;
  messageRate: { perSec: number; burst: number };
  /** `resume` frames per second per connection, and back to back: each one replays stored messages. */
  resumeRate: { perSec: number; burst: number };
  maxUnreachable: number;
  /** Authenticated sockets wait here for their turn within the node's accept rate. */
  gate: AdmissionGate;
  clock: Clock;
  logger: Logger;
  metrics: AgentMetrics;
}

export interface TransportHandlers {
  /** Decide where the user goes; returns the registered connection if this node accepted it (it has sent the welcome). */
  admit(socket: WebSocket, userId: string, params: ConnectParams): ClientConnection | undefined;
  message(conn: ClientConnection, data: unknown): void;
  /** The client saw a gap in its delivery positions and asks for a replay after `last`. */
  resume(conn: ClientConnection, last: number): void;
  closed(conn: ClientConnection, code: number): void;
  /** The node holds a session of the user now. */
  holds(userId: string): boolean;
  /** This node would take the user's socket now (not a redirect, not a refusal). */
  wouldAccept(userId: string, params: ConnectParams): boolean;
}


/**
 * What a socket's listeners need: its connection once admitted, whether it closed, its frame budgets. One per
 * socket, found by the listeners (shared by every socket, no closures per socket) through the socket itself.
 */
class Session {
  conn: ClientConnection | undefined = undefined;
  closed = false;
  /**
   * Frame budgets, made when the first frame (or resume) arrives: a bucket made then is full, exactly as one made
   * at connect time and refilled since would be, and an idle socket holds none.
   */
  bucket: TokenBucket | undefined = undefined;
  resumes: TokenBucket | undefined = undefined;
  /** Closes the socket TOKEN_EXPIRED when its token's `exp` passes. */
  expiry: unknown = undefined;

  constructor(readonly transport: Transport) {}
}

const SESSION = Symbol('wsring.session');
type SessionSocket = WebSocket & { [SESSION]?: Session };

function onSocketError(this: SessionSocket, err: Error): void {
  this[SESSION]?.transport.socketError(err);
}

function onSocketClose(this: SessionSocket, code: number): void {
  const session = this[SESSION];
  if (session) session.transport.socketClosed(this, session, code);
}

function onSocketMessage(this: SessionSocket, raw: RawData, isBinary: boolean): void {
  const session = this[SESSION];
  if (session) session.transport.socketMessage(this, session, raw, isBinary);
}

// Node timers fire at once past 2^31-1 ms: longer waits are taken in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Failed authentications logged per second at most (all are counted); the rest are summed into the next line. */
const AUTH_FAILURE_LOGS_PER_SEC = 5;

/** Close a socket with a wsring close code; the reason is cut to the 123 bytes a close frame allows. */
export function closeWith(socket: WebSocket, code: number, reason: string, metrics?: AgentMetrics): void {
  metrics?.refused.inc({ code: String(code) });
  if (socket.readyState === socket.CLOSED || socket.readyState === socket.CLOSING) return;
  socket.close(code, Buffer.from(reason).subarray(0, 123).toString());
}

/**
 * One client socket from upgrade to close: authentication, admission, then frames. Frames are
 * validated (BAD_FRAME close for malformed ones, an error frame for unknown types) and rate
 * limited per connection (RATE_LIMITED close). Oversize frames are refused by `ws` itself (1009).
 */
export class Transport {
  /**
   * Open sockets the registry does not hold: not admitted (yet, or refused and closing), or displaced and closing.
   * With the registry's, every open socket (what the server terminates when it closes).
   */
  readonly pending = new Set<WebSocket>();
  private readonly failureLogs: TokenBucket;
  private unloggedFailures = 0;

  constructor(private readonly options: TransportOptions, private readonly handlers: TransportHandlers) {
    this.failureLogs = new TokenBucket(AUTH_FAILURE_LOGS_PER_SEC, AUTH_FAILURE_LOGS_PER_SEC, options.clock.now());
  }

  handle(socket: WebSocket, request: IncomingMessage): void {
    const params = parseConnectParams(new URL(request.url ?? '/', 'http://localhost').searchParams);
    const session = this.listen(socket);
    if ((params.unreachable?.length ?? 0) > this.options.maxUnreachable) {
      closeWith(socket, CloseCode.BAD_FRAME, `unreachable lists more than ${this.options.maxUnreachable} nodes`, this.options.metrics);
      return;
    }
    this.admit(socket, request, params, session).catch((err) => {
      this.options.logger.error({ err: String(err) }, 'admission failed');
      closeWith(socket, CloseCode.INTERNAL_ERROR, 'internal error', this.options.metrics);
    });
  }

  /**
   * The socket's listeners, for its whole life: functions shared by every socket, which find this small session
   * on the socket (so nothing per socket closes over the upgrade request, which would then live as long as the socket).
   */
  private listen(socket: WebSocket): Session {
    const session = new Session(this);
    (socket as SessionSocket)[SESSION] = session;
    this.pending.add(socket);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('message', onSocketMessage);
    return session;
  }

  /** @internal called by the socket's listeners. */
  socketError(err: Error): void {
    this.options.logger.debug({ err: err.message }, 'client socket error');
  }

  /** @internal */
  socketClosed(socket: WebSocket, session: Session, code: number): void {
    this.pending.delete(socket);
    session.closed = true;
    if (session.expiry !== undefined) this.options.clock.clearTimeout(session.expiry);
    if (session.conn) this.handlers.closed(session.conn, code);
  }

  /** @internal */
  socketMessage(socket: WebSocket, session: Session, raw: RawData, isBinary: boolean): void {
    const { clock, messageRate, metrics } = this.options;
    const now = clock.now();
    session.bucket ??= new TokenBucket(messageRate.perSec, messageRate.burst, now);
    if (!session.bucket.tryTake(now)) {
      closeWith(socket, CloseCode.RATE_LIMITED, 'message rate limit exceeded', metrics);
      return;
    }
    if (!session.conn) {
      // Frames before the welcome have nowhere to go yet.
      socket.send(encodeFrame({ type: 'error', code: 'NOT_READY', message: 'wait for the welcome frame' }));
      return;
    }
    if (isBinary) {
      closeWith(socket, CloseCode.BAD_FRAME, 'binary frames are not part of the protocol', metrics);
      return;
    }
    this.frame(session, session.conn, raw.toString());
  }

  private async admit(socket: WebSocket, request: IncomingMessage, params: ConnectParams, session: Session): Promise<void> {
    const { logger, metrics } = this.options;
    let identity: AuthIdentity | null = null;
    let failure: string | undefined;
    try {
      identity = await this.options.authenticate(request, params);
    } catch (err) {
      if (err instanceof AuthUnavailableError) {
        logger.warn({ err: err.message }, 'authentication unavailable');
        if (!session.closed) closeWith(socket, CloseCode.INTERNAL_ERROR, 'authentication unavailable, retry', metrics);
        return;
      }
      failure = err instanceof AuthRejectedError ? err.reason : 'authenticate-threw';
    }
    if (session.closed) return;
    if (!identity) failure ??= 'rejected';
    // Well-formed ids only: two ids must never encode to one delivery subject.
    else if (!isValidUserId(identity.userId)) failure = 'bad-user-id';
    else if (identity.expiresAt !== undefined && !(identity.expiresAt > this.options.clock.now())) failure = 'expired';
    if (failure !== undefined || !identity) {
      this.authFailed(request, failure ?? 'rejected');
      closeWith(socket, CloseCode.UNAUTHORIZED, 'unauthorized', metrics);
      return;
    }
    const id = identity;
    // Only a socket this node would take waits for a turn; a redirect or a refusal goes at once (and is decided
    // again at the turn: the ring or the node's load may have changed meanwhile).
    const passes = this.handlers.holds(id.userId) || !this.handlers.wouldAccept(id.userId, params);
    this.options.gate.enter(id.userId, passes, {
      admit: () => {
        try {
          this.register(socket, session, id, params);
        } catch (err) {
          this.options.logger.error({ err: String(err) }, 'admission failed');
          closeWith(socket, CloseCode.INTERNAL_ERROR, 'internal error', this.options.metrics);
        }
      },
      refuse: (reason) => closeWith(socket, CloseCode.OVER_CAPACITY, reason, this.options.metrics),
      gone: () => session.closed,
    });
  }

  /** The socket's turn at the gate: admission proper (owner, stand-in, redirect), then its welcome and delivery. */
  private register(socket: WebSocket, session: Session, identity: AuthIdentity, params: ConnectParams): void {
    if (identity.expiresAt !== undefined && !(identity.expiresAt > this.options.clock.now())) {
      // The token ran out while the socket waited for its turn: the client reconnects with a fresh one.
      this.options.metrics.tokensExpired.inc();
      closeWith(socket, CloseCode.TOKEN_EXPIRED, 'token expired', this.options.metrics);
      return;
    }
    session.conn = this.handlers.admit(socket, identity.userId, params);
    if (session.conn) this.pending.delete(socket);
    if (session.conn && identity.expiresAt !== undefined) this.expireAt(socket, session, identity.expiresAt);
  }

  /** A failed authentication: counted by reason, logged with the peer's address (never the token), at most a few lines a second. */
  private authFailed(request: IncomingMessage, reason: string): void {
    this.options.metrics.authFailures.inc({ reason });
    if (!this.failureLogs.tryTake(this.options.clock.now())) {
      this.unloggedFailures++;
      return;
    }
    const suppressed = this.unloggedFailures;
    this.unloggedFailures = 0;
    this.options.logger.warn({ event: 'auth-failed', reason, address: request.socket.remoteAddress, ...(suppressed > 0 ? { suppressed } : {}) }, 'authentication failed');
  }

  /** Close the socket TOKEN_EXPIRED once `expiresAt` passes (the client reconnects with a fresh token). */
  private expireAt(socket: WebSocket, session: Session, expiresAt: number): void {
    const { clock, metrics } = this.options;
    const wait = () => {
      const left = expiresAt - clock.now();
      if (left > 0) {
        session.expiry = clock.setTimeout(wait, Math.min(left, MAX_TIMER_MS));
        return;
      }
      session.expiry = undefined;
      if (session.closed) return;
      metrics.tokensExpired.inc();
      closeWith(socket, CloseCode.TOKEN_EXPIRED, 'token expired', metrics);
    };
    wait();
  }

  private frame(session: Session, conn: ClientConnection, text: string): void {
    let frame;
    try {
      frame = decodeClientFrame(text);
    } catch (err) {
      if (err instanceof ProtocolError && err.code === 'UNKNOWN_FRAME') {
        conn.sendFrame({ type: 'error', code: 'UNKNOWN_FRAME', message: err.message });
        return;
      }
      closeWith(conn.socket, CloseCode.BAD_FRAME, err instanceof Error ? err.message : 'bad frame', this.options.metrics);
      return;
    }
    if (frame.type === 'ping') conn.sendFrame({ type: 'pong', ts: frame.ts });
    else if (frame.type === 'resume') {
      // Each resume replays from the store: bounded per connection, like frames are.
      const now = this.options.clock.now();
      session.resumes ??= new TokenBucket(this.options.resumeRate.perSec, this.options.resumeRate.burst, now);
      if (!session.resumes.tryTake(now)) closeWith(conn.socket, CloseCode.RATE_LIMITED, 'resume rate limit exceeded', this.options.metrics);
      else this.handlers.resume(conn, frame.last);
    }
    else this.handlers.message(conn, frame.data);
  }
}
