import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { CloseCode, MAX_USER_ID_LENGTH, ProtocolError, decodeClientFrame, encodeFrame, parseConnectParams, type ConnectParams } from '@wsring/protocol';
import { AuthUnavailableError } from './auth.js';
import type { ClientConnection } from './connections.js';
import type { AgentMetrics } from './metrics.js';
import type { Clock } from './clock.js';
import { TokenBucket } from './token-bucket.js';
import type { Authenticate, Logger } from './types.js';

export interface TransportOptions {
  authenticate: Authenticate;
  messageRate: { perSec: number; burst: number };
  maxUnreachable: number;
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
}


/** What a socket's listeners need: its connection once admitted, whether it closed, its frame budget. */
interface Session {
  conn: ClientConnection | undefined;
  closed: boolean;
  bucket: TokenBucket;
}

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
  constructor(private readonly options: TransportOptions, private readonly handlers: TransportHandlers) {}

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
   * The socket's listeners, for its whole life. Kept apart from `handle` so that they close over
   * this small session only, not over the upgrade request (which would then live as long as the socket).
   */
  private listen(socket: WebSocket): Session {
    const { logger, metrics } = this.options;
    const session: Session = { conn: undefined, closed: false, bucket: new TokenBucket(this.options.messageRate.perSec, this.options.messageRate.burst, this.options.clock.now()) };
    socket.on('error', (err) => logger.debug({ err: err.message }, 'client socket error'));
    socket.on('close', (code) => {
      session.closed = true;
      if (session.conn) this.handlers.closed(session.conn, code);
    });
    socket.on('message', (raw: RawData, isBinary: boolean) => {
      if (!session.bucket.tryTake(this.options.clock.now())) {
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
      this.frame(session.conn, raw.toString());
    });
    return session;
  }

  private async admit(socket: WebSocket, request: IncomingMessage, params: ConnectParams, session: Session): Promise<void> {
    const { logger, metrics } = this.options;
    let identity: { userId: string } | null = null;
    try {
      identity = await this.options.authenticate(request, params);
    } catch (err) {
      if (err instanceof AuthUnavailableError) {
        logger.warn({ err: err.message }, 'authentication unavailable');
        if (!session.closed) closeWith(socket, CloseCode.INTERNAL_ERROR, 'authentication unavailable, retry', metrics);
        return;
      }
      logger.debug({ err: String(err) }, 'authenticate threw');
    }
    if (session.closed) return;
    const userId = identity?.userId;
    if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
      closeWith(socket, CloseCode.UNAUTHORIZED, 'unauthorized', metrics);
      return;
    }
    session.conn = this.handlers.admit(socket, userId, params);
  }

  private frame(conn: ClientConnection, text: string): void {
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
    else if (frame.type === 'resume') this.handlers.resume(conn, frame.last);
    else this.handlers.message(conn, frame.data);
  }
}
