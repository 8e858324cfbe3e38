import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloseCode, MAX_USER_ID_LENGTH, MEMBER_STATES, TERMINAL_CLOSE_CODES, isMemberState, isValidUserId } from '../src/mod.js';

describe('limits and enumerations', () => {
  it('accepts user ids of 1 to MAX_USER_ID_LENGTH UTF-16 code units', () => {
    expect(MAX_USER_ID_LENGTH).toBe(256);
    expect(isValidUserId('u')).toBe(true);
    expect(isValidUserId('😀'.repeat(128))).toBe(true);
    expect(isValidUserId('x'.repeat(MAX_USER_ID_LENGTH))).toBe(true);
    for (const bad of ['', 'x'.repeat(MAX_USER_ID_LENGTH + 1), '😀'.repeat(129), 7, null, undefined, ['u']]) expect(isValidUserId(bad)).toBe(false);
    // Unpaired surrogates: their UTF-8 form would collide with U+FFFD (`carol\uFFFD` is a valid id of its own).
    for (const bad of ['carol\uD800', 'carol\uDC00', '\uDC00\uD800', 'a\uD83Db']) expect(isValidUserId(bad)).toBe(false);
    expect(isValidUserId('carol\uFFFD')).toBe(true);
  });

  it('accepts exactly the well-formed ids of valid length', () => {
    // UTF-16 code units, surrogates (paired or not) as likely as anything else.
    const units = fc.array(fc.oneof(fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0, max: 0xffff })), { maxLength: 40 });
    fc.assert(
      fc.property(units.map((u) => String.fromCharCode(...u)), (id) => {
        const wellFormed = encodeURIComponentSafe(id);
        expect(isValidUserId(id)).toBe(id.length > 0 && wellFormed);
      }),
      { numRuns: 2_000, seed: 41 },
    );
  });

  it('refuses user ids with an unpaired surrogate, so two ids never encode to the same UTF-8 (one delivery subject)', () => {
    for (const bad of ['carol\uD800', 'carol\uDC00', '\uDC00\uD800', 'a\uD800b']) expect(isValidUserId(bad)).toBe(false);
    expect(isValidUserId('carol\uFFFD')).toBe(true);
    expect(isValidUserId('carol\uD83D\uDE00')).toBe(true);
  });

  it('accepts exactly the ids whose UTF-8 encoding decodes back to them (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), (id) => {
        const roundTrips = Buffer.from(id, 'utf8').toString('utf8') === id;
        expect(isValidUserId(id)).toBe(roundTrips);
      }),
    );
  });

  it('knows the member states and nothing else', () => {
    expect(MEMBER_STATES).toEqual(['joining', 'active', 'draining']);
    expect(isMemberState('draining')).toBe(true);
    for (const bad of ['gone', '', 'Active', null]) expect(isMemberState(bad)).toBe(false);
  });

  it('makes only a rejected token and a replaced connection terminal', () => {
    expect([...TERMINAL_CLOSE_CODES].sort()).toEqual([CloseCode.REPLACED, CloseCode.SESSION_LIMIT, CloseCode.UNAUTHORIZED]);
    // An expired token is not terminal: the client reconnects with a fresh one.
    expect(CloseCode.TOKEN_EXPIRED).toBe(4440);
    expect(TERMINAL_CLOSE_CODES.has(CloseCode.TOKEN_EXPIRED)).toBe(false);
  });
});

/** Well-formed UTF-16, by an independent route: encodeURIComponent throws URIError on a lone surrogate. */
function encodeURIComponentSafe(text: string): boolean {
  try {
    encodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}
