import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { CloseCode, ProtocolError, decodeClientFrame, encodeFrame, parseConnectParams, type ConnectParams } from '@wsring/client/protocol';
import { AuthUnavailableError, MAX_USER_ID_LENGTH } from './auth.js';
import type { ClientConnection } from './connections.js';
import type { AgentMetrics } from './metrics.js';
import { TokenBucket } from './token-bucket.js';
import type { Authenticate, Logger } from './types.js';

export interface TransportOptions {
  authenticate: Authenticate;
  messageRate: { perSec: number; burst: number };
  maxUnreachable: number;
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

const now = () => performance.now();

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
    const { logger, metrics } = this.options;
    const search = new URL(request.url ?? '/', 'http://localhost').searchParams;
    const params = parseConnectParams(search);
    let conn: ClientConnection | undefined;
    let closed = false;
    const bucket = new TokenBucket(this.options.messageRate.perSec, this.options.messageRate.burst, now());

    socket.on('error', (err) => logger.debug({ err: err.message }, 'client socket error'));
    socket.on('close', (code) => {
      closed = true;
      if (conn) this.handlers.closed(conn, code);
    });
    socket.on('message', (raw: RawData, isBinary: boolean) => {
      if (!bucket.tryTake(now())) {
        closeWith(socket, CloseCode.RATE_LIMITED, 'message rate limit exceeded', metrics);
        return;
      }
      if (!conn) {
        // Frames before the welcome have nowhere to go yet.
        socket.send(encodeFrame({ type: 'error', code: 'NOT_READY', message: 'wait for the welcome frame' }));
        return;
      }
      if (isBinary) {
        closeWith(socket, CloseCode.BAD_FRAME, 'binary frames are not part of the protocol', metrics);
        return;
      }
      this.frame(conn, raw.toString());
    });

    if ((params.unreachable?.length ?? 0) > this.options.maxUnreachable) {
      closeWith(socket, CloseCode.BAD_FRAME, `unreachable lists more than ${this.options.maxUnreachable} nodes`, metrics);
      return;
    }
    void (async () => {
      let identity: { userId: string } | null = null;
      try {
        identity = await this.options.authenticate(request, params);
      } catch (err) {
        if (err instanceof AuthUnavailableError) {
          logger.warn({ err: err.message }, 'authentication unavailable');
          if (!closed) closeWith(socket, CloseCode.INTERNAL_ERROR, 'authentication unavailable, retry', metrics);
          return;
        }
        logger.debug({ err: String(err) }, 'authenticate threw');
      }
      if (closed) return;
      const userId = identity?.userId;
      if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
        closeWith(socket, CloseCode.UNAUTHORIZED, 'unauthorized', metrics);
        return;
      }
      conn = this.handlers.admit(socket, userId, params);
    })().catch((err) => {
      logger.error({ err: String(err) }, 'admission failed');
      closeWith(socket, CloseCode.INTERNAL_ERROR, 'internal error', metrics);
    });
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
