import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

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
  handleHttp(req: IncomingMessage, res: ServerResponse): boolean;
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

/** Upgrades on `path` go to our WebSocketServer; other paths are left to the application. */
function routeUpgrades(server: HttpServer, wss: WebSocketServer, path: string): () => void {
  const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? '/').split('?')[0] !== path) return;
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', listener);
  return () => server.removeListener('upgrade', listener);
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

  const wss = new WebSocketServer({ noServer: true, maxPayload: input.maxPayload });
  wss.on('connection', onConnection);
  const own = input.server === undefined;
  const http = input.server ?? createServer();
  const undo = [routeUpgrades(http, wss, input.path)];
  if (input.serveHttp) undo.push(routeHttp(http, input.handleHttp));
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
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      if (own) {
        http.closeAllConnections?.();
        await new Promise<void>((r) => http.close(() => r()));
      }
    },
  };
}
