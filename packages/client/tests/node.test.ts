// The Node entry over real sockets: `ws` as the default WebSocket, Node's fetch, real close codes and refused
// connections. The nodes here are a few lines of `ws` that speak the protocol; the real agent is tested in test/integration.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRing, type Ring } from '@wsring/ring';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, CloseCode, encodeFrame, parseConnectParams, PROTOCOL_VERSION, type ClientEvents, type Topology, type WsringClient } from '../src/node.js';

interface TinyNode {
  id: string;
  url: string;
  http: Server;
  wss: WebSocketServer;
  connects: URLSearchParams[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Start `ids.length` tiny nodes sharing one topology; each welcomes its own users and redirects the others. */
async function startNodes(ids: string[], opts: { token?: string } = {}): Promise<{ nodes: TinyNode[]; ring: Ring; topology: Topology }> {
  const nodes: TinyNode[] = [];
  for (const id of ids) {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: '/ws' });
    const port = await listen(http);
    nodes.push({ id, url: `ws://127.0.0.1:${port}/ws`, http, wss, connects: [] });
  }
  const ring = await createRing(nodes.map((n) => ({ id: n.id, meta: { url: n.url } })));
  const topology: Topology = {
    protocol: PROTOCOL_VERSION,
    epoch: 1,
    fingerprint: ring.fingerprint,
    ring: ring.toJSON(),
    nodes: nodes.map((n) => ({ id: n.id, url: n.url, weight: 1, state: 'active' })),
  };
  for (const node of nodes) {
    node.http.on('request', (req, res) => {
      if (req.url !== '/topology') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(topology));
    });
    node.wss.on('connection', (socket, req) => {
      const params = parseConnectParams(new URL(req.url ?? '/', 'http://x').searchParams);
      node.connects.push(new URL(req.url ?? '/', 'http://x').searchParams);
      if (opts.token !== undefined && params.token !== opts.token) return socket.close(CloseCode.UNAUTHORIZED, 'bad token');
      const prefs = ring.owners(params.user, 3);
      const owner = prefs[0];
      const standIn = owner !== node.id && prefs.indexOf(node.id) > 0 && prefs.slice(0, prefs.indexOf(node.id)).every((p) => params.unreachable?.includes(p));
      if (owner !== node.id && !standIn) {
        const url = nodes.find((n) => n.id === owner)?.url as string;
        socket.send(encodeFrame({ type: 'redirect', node: owner, url, epoch: 1, fingerprint: ring.fingerprint, reason: 'not-owner' }));
        return socket.close(CloseCode.REDIRECT, 'not owner');
      }
      socket.send(encodeFrame({ type: 'welcome', node: node.id, epoch: 1, fingerprint: ring.fingerprint, standIn }));
      socket.on('message', (data) => socket.send(encodeFrame({ type: 'message', data: { echo: JSON.parse(String(data)).data } })));
    });
  }
  cleanups.push(() => stopNodes(nodes));
  return { nodes, ring, topology };
}

async function stopNode(node: TinyNode): Promise<void> {
  for (const client of node.wss.clients) client.terminate();
  node.wss.close();
  node.http.closeAllConnections();
  await new Promise<void>((resolve) => node.http.close(() => resolve()));
}

async function stopNodes(nodes: TinyNode[]): Promise<void> {
  await Promise.all(nodes.filter((n) => n.http.listening).map(stopNode));
}

function track(client: WsringClient) {
  cleanups.push(() => client.close());
  const next = <K extends keyof ClientEvents>(event: K) => new Promise<ClientEvents[K]>((resolve) => client.once(event, resolve));
  return { next };
}

const httpOf = (node: TinyNode) => node.url.replace('ws://', 'http://').replace('/ws', '');

describe('Node entry over real sockets', () => {
  it('connects with ws by default, straight to the owner, and exchanges messages', async () => {
    const { nodes, ring } = await startNodes(['a', 'b', 'c']);
    const client = createClient({ user: 'alice', bootstrap: [httpOf(nodes[2]), httpOf(nodes[0])] });
    const { next } = track(client);
    const open = await next('open');
    expect(open.node).toBe(ring.owner('alice'));
    const owner = nodes.find((n) => n.id === open.node) as TinyNode;
    expect(owner.connects).toHaveLength(1);
    expect(nodes.reduce((sum, n) => sum + n.connects.length, 0)).toBe(1);
    const message = next('message');
    client.send('ping');
    expect(await message).toEqual({ echo: 'ping' });
  });

  it('fails over to the next node of its preference list when the owner refuses connections', async () => {
    const { nodes, ring } = await startNodes(['a', 'b', 'c']);
    const prefs = ring.owners('bob', 3);
    const owner = nodes.find((n) => n.id === prefs[0]) as TinyNode;
    const bootstrap = nodes.filter((n) => n !== owner).map(httpOf);
    await stopNode(owner);
    const client = createClient({ user: 'bob', bootstrap });
    const { next } = track(client);
    const moved = next('moved');
    const open = await next('open');
    expect(open).toMatchObject({ node: prefs[1], epoch: 1, standIn: true });
    expect(await moved).toEqual({ from: prefs[0], to: prefs[1], reason: 'failover' });
    const standIn = nodes.find((n) => n.id === prefs[1]) as TinyNode;
    expect(standIn.connects[0].get('unreachable')).toBe(prefs[0]);
  });

  it('closes for good on UNAUTHORIZED', async () => {
    const { nodes } = await startNodes(['a', 'b'], { token: 'right' });
    const client = createClient({ user: 'carol', token: 'wrong', bootstrap: [httpOf(nodes[0])] });
    const { next } = track(client);
    expect(await next('close')).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'bad token' });
    expect(client.state).toBe('closed');
    expect(nodes.reduce((sum, n) => sum + n.connects.length, 0)).toBe(1);
  });

  it('reconnects with backoff after the node drops it', async () => {
    const { nodes } = await startNodes(['a']);
    const client = createClient({ user: 'dave', bootstrap: [httpOf(nodes[0])], backoff: { baseMs: 20, capMs: 100 } });
    const { next } = track(client);
    await next('open');
    const reconnecting = next('reconnecting');
    for (const socket of nodes[0].wss.clients) socket.close(CloseCode.INTERNAL_ERROR, 'oops');
    const { attempt, delayMs } = await reconnecting;
    expect(attempt).toBe(1);
    expect(delayMs).toBeLessThan(20);
    await next('open');
    expect(nodes[0].connects).toHaveLength(2);
  });
});
