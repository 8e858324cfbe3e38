import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connectUrl, parseConnectParams, type ConnectParams } from '../src/mod.js';

describe('connect parameters', () => {
  it('read back from the URL a client opens as they were written', () => {
    const nodeId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
    const params = fc.record(
      {
        user: fc.string({ minLength: 1, maxLength: 256 }),
        token: fc.string(),
        epoch: fc.nat(),
        unreachable: fc.array(nodeId, { minLength: 1, maxLength: 9 }),
        last: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      },
      { requiredKeys: ['user'] },
    );
    fc.assert(
      fc.property(params, (p: ConnectParams) => {
        const url = new URL(connectUrl('ws://node.test:8080/ws?keep=1', p));
        expect(url.pathname).toBe('/ws');
        expect(url.searchParams.get('keep')).toBe('1');
        const back = parseConnectParams(url.searchParams);
        expect({ ...back }).toEqual({ token: undefined, epoch: undefined, unreachable: undefined, last: undefined, ...p });
      }),
      { numRuns: 1_000, seed: 31 },
    );
  });

  it('reads a missing user as empty and unusable numbers as absent', () => {
    expect(parseConnectParams(new URLSearchParams('epoch=x&last=&unreachable=,a,,b'))).toEqual({ user: '', token: undefined, epoch: undefined, unreachable: ['a', 'b'], last: undefined });
  });
});
