import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Clock } from './clock.js';

export interface ServerSetup {
  /** The WebSocketServer client sockets arrive on. */
  wss: WebSocketServer;
  /** Bound port when the agent listens itself. */
  port: number | undefined;
  close(): Promise<void>;
}

export interface ServerInput {
  server?: WebSocketServer | HttpServer;
  port: number;
  host: string;
  /** Pending-connection queue of the listening socket (capped by the kernel's somaxconn). */
  backlog: number;
  path: string;
  maxPayload: number;
  serveHttp: boolean;
  onSocket(socket: WebSocket, request: IncomingMessage): void;
  /**
   * The sockets open now (terminated when the server closes). The agent's own WebSocketServer does not track its
   * clients (`clientTracking: false`, which would add a closure and a listener per socket); the agent knows them
   * (its registry, and the transport's sockets not admitted yet).
   */
  openSockets(): Iterable<WebSocket>;
  handleHttp(req: IncomingMessage, res: ServerResponse): boolean;
  clock: Clock;
  /** Listening itself: drop a TCP connection without a complete request or upgrade by then. */
  handshakeTimeoutMs: number;
  /** Listening itself: open TCP connections per remote address. */
  maxConnectionsPerAddress: number;
  /** A connection dropped before any WebSocket, and why. */
  refused(reason: 'per-address-cap' | 'handshake-timeout' | 'unknown-path'): void;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Put the agent's HTTP endpoints in front of the application's request listeners: ours answer
 * their own paths and hand every other request to the listeners the server already had.
 */
function routeHttp(server: HttpServer, handle: ServerInput['handleHttp']): () => void {
  const appListeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const listener: RequestListener = (req, res) => {
    if (handle(req, res)) return;
    if (appListeners.length === 0) {
      res.writeHead(404).end();
      return;
    }
    for (const l of appListeners) l.call(server, req, res);
  };
  server.on('request', listener);
  return () => {
    server.removeListener('request', listener);
    for (const l of appListeners) server.on('request', l);
  };
}

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 35\r\n\r\nno WebSocket endpoint at this path\n';

/**
 * Upgrades on `path` go to our WebSocketServer. Other paths are left to the application's own upgrade listeners;
 * with none (always when the agent listens itself) they get a 400 at once instead of hanging.
 */
function routeUpgrades(server: HttpServer, own: boolean, wss: WebSocketServer, path: string, refused: ServerInput['refused']): () => void {
  const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? '/').split('?')[0] !== path) {
      if (!own && server.listenerCount('upgrade') > 1) return;
      refused('unknown-path');
      socket.end(BAD_REQUEST);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', listener);
  return () => server.removeListener('upgrade', listener);
}

/**
 * Hygiene for a server the agent listens on itself: at most `maxConnectionsPerAddress` open connections per remote
 * address (more are destroyed at accept), and each must send a complete request or upgrade within
 * `handshakeTimeoutMs` (a silent or trickling peer would otherwise hold a descriptor forever). After the first
 * request Node's own keep-alive and header timeouts apply; after an upgrade the WebSocket is the transport's.
 */
function guardConnections(server: HttpServer, input: ServerInput): () => void {
  const { clock } = input;
  const perAddress = new Map<string, number>();
  const waiting = new Map<Socket, unknown>();
  const handshaken = (socket: Socket | Duplex) => {
    const timer = waiting.get(socket as Socket);
    if (timer === undefined) return;
    clock.clearTimeout(timer);
    waiting.delete(socket as Socket);
  };
  function onClose(this: Socket): void {
    handshaken(this);
    const address = this.remoteAddress;
    if (address === undefined) return;
    const left = (perAddress.get(address) ?? 1) - 1;
    if (left > 0) perAddress.set(address, left);
    else perAddress.delete(address);
  }
  const onConnection = (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined) return;
    const open = perAddress.get(address) ?? 0;
    if (open >= input.maxConnectionsPerAddress) {
      input.refused('per-address-cap');
      socket.destroy();
      return;
    }
    perAddress.set(address, open + 1);
    // One listener for every socket (no closure per socket): after close the address is the one read above,
    // which Node keeps on the socket.
    socket.on('close', onClose);
    waiting.set(
      socket,
      clock.setTimeout(() => {
        waiting.delete(socket);
        input.refused('handshake-timeout');
        socket.destroy();
      }, input.handshakeTimeoutMs),
    );
  };
  const onRequest = (req: IncomingMessage) => handshaken(req.socket);
  const onUpgrade = (req: IncomingMessage, socket: Duplex) => handshaken(socket);
  server.on('connection', onConnection);
  server.on('request', onRequest);
  // First among the upgrade listeners, so that it runs whoever answers the upgrade.
  server.prependListener('upgrade', onUpgrade);
  return () => {
    server.removeListener('connection', onConnection);
    server.removeListener('request', onRequest);
    server.removeListener('upgrade', onUpgrade);
    for (const timer of waiting.values()) clock.clearTimeout(timer);
    waiting.clear();
  };
}

export async function setupServer(input: ServerInput): Promise<ServerSetup> {
  const onConnection = (ws: WebSocket, req: IncomingMessage) => input.onSocket(ws, req);

  if (input.server instanceof WebSocketServer) {
    // The application's WebSocketServer: its own path and maxPayload apply.
    const wss = input.server;
    wss.on('connection', onConnection);
    return {
      wss,
      port: undefined,
      close: async () => {
        wss.removeListener('connection', onConnection);
      },
    };
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: input.maxPayload, clientTracking: false });
  wss.on('connection', onConnection);
  const own = input.server === undefined;
  const http = input.server ?? createServer();
  const undo = [routeUpgrades(http, own, wss, input.path, input.refused)];
  if (input.serveHttp) undo.push(routeHttp(http, input.handleHttp));
  // After routeHttp, which would otherwise take the guard's request listener for an application's.
  if (own) undo.push(guardConnections(http, input));
  let port: number | undefined;
  if (own) {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen({ port: input.port, host: input.host, backlog: input.backlog }, () => {
        http.removeListener('error', reject);
        resolve();
      });
    });
    port = (http.address() as AddressInfo).port;
  }
  return {
    wss,
    port,
    close: async () => {
      for (const u of undo) u();
      for (const c of [...input.openSockets()]) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      if (own) {
        http.closeAllConnections?.();
        await new Promise<void>((r) => http.close(() => r()));
      }
    },
  };
}
