import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloseCode, MAX_SESSION_ID_LENGTH, TERMINAL_CLOSE_CODES, connectUrl, decodeServerFrame, isValidSessionId, parseConnectParams } from '../src/mod.js';

const sessionId = fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/);

describe('sessions on the wire', () => {
  it('a welcome carries its session id and user; malformed ones are dropped, never trusted', () => {
    expect(decodeServerFrame(JSON.stringify({ type: 'welcome', node: 'a', epoch: 1, fingerprint: 'f', session: 'Ab_9-x', user: 'alice' }))).toEqual({
      type: 'welcome',
      node: 'a',
      epoch: 1,
      fingerprint: 'f',
      standIn: false,
      session: 'Ab_9-x',
      user: 'alice',
    });
    for (const session of ['', 'has space', 'x'.repeat(MAX_SESSION_ID_LENGTH + 1), 7, null, { a: 1 }]) {
      const f = decodeServerFrame(JSON.stringify({ type: 'welcome', node: 'a', epoch: 1, fingerprint: 'f', session, user: '' }));
      expect(f).not.toHaveProperty('session');
      expect(f).not.toHaveProperty('user');
    }
  });

  it('the session connect parameter round-trips; isValidSessionId accepts exactly 1-32 of [A-Za-z0-9_-]', () => {
    fc.assert(
      fc.property(sessionId, (session) => {
        expect(isValidSessionId(session)).toBe(true);
        expect(parseConnectParams(new URL(connectUrl('ws://n/ws', { user: 'u', session })).searchParams).session).toBe(session);
      }),
      { seed: 12 },
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(isValidSessionId(s)).toBe(/^[A-Za-z0-9_-]{1,32}$/.test(s));
      }),
      { seed: 12 },
    );
  });

  it('SESSION_LIMIT is 4006 and final', () => {
    expect(CloseCode.SESSION_LIMIT).toBe(4006);
    expect(TERMINAL_CLOSE_CODES.has(CloseCode.SESSION_LIMIT)).toBe(true);
  });
});
