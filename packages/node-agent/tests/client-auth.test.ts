// The SDK and a real agent verifying short-lived JWTs: the agent closes a socket TOKEN_EXPIRED at its token's exp;
// a token function then renews the token (the expired one would be refused: reconnecting with it cannot work), a
// fixed token ends there, and a client whose token belongs to someone else is told so instead of silently reading their messages.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ClientError, type WsringClient } from '@wsring/client';
import { CloseCode } from '@wsring/protocol';
import { createAgent, jwtAuthenticator, MemoryMembership, type Agent } from '../src/mod.js';
import { openClient, until } from './helpers.js';

const SECRET = new TextEncoder().encode('client-auth-test-secret-0123456789abcdef');

/** An HS256 JWT for `sub`, valid for `seconds` from now (exp has a resolution of one second). */
const jwt = (sub: string, seconds: number) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
    .sign(SECRET);

describe('tokens and the authenticated user, SDK against a real agent', () => {
  let agent: Agent;
  const clients: WsringClient[] = [];
  const bootstrap = () => [`http://127.0.0.1:${agent.port}`];

  beforeAll(async () => {
    agent = await createAgent({
      id: 'a',
      membership: new MemoryMembership(),
      port: 0,
      host: '127.0.0.1',
      settleMs: 50,
      heartbeatMs: 100,
      // No clock tolerance: a token past its exp is refused at once.
      authenticate: jwtAuthenticator({ secret: SECRET, clockToleranceSec: 0 }),
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await agent.close();
  });

  const track = (client: WsringClient) => {
    clients.push(client);
    const seen = { errors: [] as ClientError[], closes: [] as { code: number }[], opens: 0 };
    client.on('error', (e) => seen.errors.push(e));
    client.on('close', (e) => seen.closes.push(e));
    client.on('open', () => seen.opens++);
    return seen;
  };

  it('TOKEN_EXPIRED: the token function is asked again and the client comes back, with a token the agent accepts', async () => {
    const issued: string[] = [];
    const client = createClient({
      user: 'carol',
      bootstrap: bootstrap(),
      backoff: { baseMs: 20, capMs: 100 },
      token: async () => {
        issued.push(await jwt('carol', 3));
        return issued.at(-1)!;
      },
    });
    const seen = track(client);
    let reconnects = 0;
    client.on('reconnecting', () => reconnects++);
    await until(() => client.state === 'open', 10_000, 'carol open');
    expect(client.userId).toBe('carol');
    // The agent closes the socket TOKEN_EXPIRED when the token's exp passes; the client comes back with a fresh one.
    await until(() => seen.opens === 2 && client.state === 'open', 15_000, 'carol back with a fresh token');
    expect(Date.now()).toBeGreaterThanOrEqual(expiryOf(issued[0]) - 1_000);
    expect(reconnects).toBeGreaterThanOrEqual(1);
    // The old token could not have brought it back: the agent refuses it now.
    const stale = openClient(agent.url, { user: 'carol', token: issued[0] });
    expect([CloseCode.UNAUTHORIZED, CloseCode.TOKEN_EXPIRED]).toContain((await stale.closed).code);
    expect(issued.length).toBe(2);
    expect(issued[1]).not.toBe(issued[0]);
    expect(agent.connection('carol')).toBeDefined();
    expect(seen.closes).toEqual([]);
    expect(seen.errors).toEqual([]);
  });

  it('TOKEN_EXPIRED with a fixed token ends the client (it has nothing fresher to offer)', async () => {
    const client = createClient({ user: 'dave', bootstrap: bootstrap(), token: await jwt('dave', 3) });
    const seen = track(client);
    await until(() => client.state === 'open', 10_000, 'dave open');
    await until(() => client.state === 'closed', 15_000, 'dave closed at his token’s exp');
    expect(seen.closes).toEqual([{ code: CloseCode.TOKEN_EXPIRED, reason: 'token expired' }]);
  });

  it('a client built for bob with alice’s token reports USER_MISMATCH and closes, instead of reading as alice', async () => {
    const client = createClient({ user: 'bob', bootstrap: bootstrap(), token: await jwt('alice', 60) });
    const seen = track(client);
    await until(() => client.state === 'closed', 10_000, 'the mismatched client closed');
    expect(seen.errors.map((e) => e.code)).toEqual(['USER_MISMATCH']);
    expect(seen.opens).toBe(0);
    await until(() => agent.connection('alice') === undefined, 10_000, 'the agent to drop the socket the client left');
  });
});

/** The ms at which a JWT's exp has passed. */
function expiryOf(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp: number };
  return (payload.exp + 1) * 1000;
}
