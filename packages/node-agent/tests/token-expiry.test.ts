// The agent's transport closes a socket TOKEN_EXPIRED exactly when its token's `exp` passes, on the agent's own clock
// (a manual one here: no waiting), for tokens days or months long (past Node's 2^31 ms timer limit) as for short ones.
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@wsring/protocol';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { jwtAuthenticator } from '../src/auth.js';
import { ClientConnection } from '../src/connections.js';
import { AgentMetrics } from '../src/metrics.js';
import { Transport } from '../src/transport.js';
import { AdmissionGate } from '../src/admission-gate.js';

const SECRET = 'expiry-secret-0123456789abcdef0123456';
const START = Date.UTC(2031, 0, 1);
const clock = new ManualClock(START);
const silent = { info() {}, warn() {}, error() {}, debug() {} };
const metrics = new AgentMetrics('expiry');
const transport = new Transport(
  { authenticate: jwtAuthenticator({ secret: SECRET, clock }), messageRate: { perSec: 50, burst: 100 }, resumeRate: { perSec: 1, burst: 5 }, maxUnreachable: 8, gate: new AdmissionGate({ ratePerSec: 1, maxWaitMs: 0, maxSessionsPerUser: 16, clock }), clock, logger: silent, metrics },
  {
    admit: (socket, userId) => {
      const conn = new ClientConnection(userId, socket, false, clock.now());
      conn.sendFrame({ type: 'welcome', node: 'n', epoch: 1, fingerprint: 'f', user: userId });
      return conn;
    },
    message() {},
    resume() {},
    closed() {},
    holds: () => false,
    wouldAccept: () => true,
  },
);
let wss: WebSocketServer;
let url: string;

beforeAll(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (socket, req) => transport.handle(socket, req));
  await new Promise((r) => wss.once('listening', r));
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
});
afterAll(() => new Promise((r) => wss.close(r)));

/** A socket welcomed with a token valid for `lifetimeMs` from the manual clock's now. */
async function welcomed(lifetimeMs: number): Promise<{ closed: Promise<number>; server: WebSocket }> {
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u')
    .setIssuedAt(Math.floor(clock.now() / 1000))
    .setExpirationTime(Math.floor((clock.now() + lifetimeMs) / 1000))
    .sign(new TextEncoder().encode(SECRET));
  const ws = new WebSocket(`${url}?token=${token}`);
  const server = new Promise<WebSocket>((r) => wss.once('connection', (s) => r(s)));
  const closed = new Promise<number>((r) => ws.once('close', (c) => r(c)));
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve());
    ws.once('close', (c) => reject(new Error(`closed ${c} before the welcome`)));
  });
  return { closed, server: await server };
}

describe('token expiry on the agent clock', () => {
  it.each([
    ['one minute', 60_000],
    ['sixty days (past the 2^31 ms timer limit)', 60 * 86_400_000],
  ])('a token valid for %s: open until exp, closed 4440 right after', async (_name, lifetimeMs) => {
    const s = await welcomed(lifetimeMs);
    clock.advance(lifetimeMs - 1_000);
    // The agent closes synchronously when its timer fires: the server side shows it at once.
    expect(s.server.readyState).toBe(WebSocket.OPEN);
    clock.advance(1_000);
    expect(s.server.readyState).toBe(WebSocket.CLOSING);
    expect(await s.closed).toBe(CloseCode.TOKEN_EXPIRED);
  });
});
