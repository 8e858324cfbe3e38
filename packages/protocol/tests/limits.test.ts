import { describe, expect, it } from 'vitest';
import { CloseCode, MAX_USER_ID_LENGTH, MEMBER_STATES, TERMINAL_CLOSE_CODES, isMemberState, isValidUserId } from '../src/mod.js';

describe('limits and enumerations', () => {
  it('accepts user ids of 1 to MAX_USER_ID_LENGTH UTF-16 code units', () => {
    expect(MAX_USER_ID_LENGTH).toBe(256);
    expect(isValidUserId('u')).toBe(true);
    expect(isValidUserId('😀'.repeat(128))).toBe(true);
    expect(isValidUserId('x'.repeat(MAX_USER_ID_LENGTH))).toBe(true);
    for (const bad of ['', 'x'.repeat(MAX_USER_ID_LENGTH + 1), '😀'.repeat(129), 7, null, undefined, ['u']]) expect(isValidUserId(bad)).toBe(false);
  });

  it('knows the member states and nothing else', () => {
    expect(MEMBER_STATES).toEqual(['joining', 'active', 'draining']);
    expect(isMemberState('draining')).toBe(true);
    for (const bad of ['gone', '', 'Active', null]) expect(isMemberState(bad)).toBe(false);
  });

  it('makes only a rejected token and a replaced connection terminal', () => {
    expect([...TERMINAL_CLOSE_CODES].sort()).toEqual([CloseCode.REPLACED, CloseCode.SESSION_LIMIT, CloseCode.UNAUTHORIZED]);
  });
});
