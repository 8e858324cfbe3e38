// Decoding frames from the wire: whatever text arrives, the result is a frame or a ProtocolError, never another
// exception (a TypeError here would escape as a crash wherever the caller only expects ProtocolError).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloseCode, MAX_RESTART_DELAY_MS, ProtocolError, decodeClientFrame, decodeServerFrame, encodeFrame, type ClientFrame, type ServerFrame } from '../src/mod.js';

const FRAME_TYPES = ['welcome', 'redirect', 'reconnect', 'message', 'gap', 'synced', 'checkpoint', 'error', 'pong', 'ping', 'resume'];
/** Keys that name the frames' fields, plus the ones that shadow Object.prototype methods once parsed. */
const FIELD = fc.constantFrom('node', 'user', 'signature', 'url', 'epoch', 'fingerprint', 'code', 'message', 'data', 'pos', 'prev', 'from', 'to', 'last', 'ts', 'topology', 'toString', 'valueOf', 'toJSON', '__proto__');

/** Objects shaped like frames: a known type and any JSON values under the fields' names, nested too. */
const frameLike = fc
  .record({ type: fc.constantFrom(...FRAME_TYPES), fields: fc.dictionary(FIELD, fc.oneof(fc.jsonValue(), fc.dictionary(FIELD, fc.jsonValue()))) })
  .map(({ type, fields }) => JSON.stringify({ ...fields, type }));

function outcome(decode: (text: string) => unknown, text: string): 'frame' | 'protocol-error' {
  try {
    decode(text);
    return 'frame';
  } catch (error) {
    if (error instanceof ProtocolError) return 'protocol-error';
    throw error;
  }
}

describe('frame decoding', () => {
  it('gives a frame or a ProtocolError for any text, JSON or not, frame-shaped or not', () => {
    fc.assert(
      fc.property(fc.oneof(frameLike, fc.json(), fc.string()), (text) => {
        expect(['frame', 'protocol-error']).toContain(outcome(decodeServerFrame, text));
        expect(['frame', 'protocol-error']).toContain(outcome(decodeClientFrame, text));
      }),
      { numRuns: 2_000, seed: 11 },
    );
  });

  it('reads an error frame whose fields are objects with their own toString and valueOf keys', () => {
    const text = JSON.stringify({ type: 'error', code: { toString: 1 }, message: { valueOf: 2 } });
    expect(decodeServerFrame(text)).toEqual({ type: 'error', code: '{"toString":1}', message: '{"valueOf":2}' });
  });
});

describe('frame round trip', () => {
  const pos = fc.nat({ max: Number.MAX_SAFE_INTEGER });
  const id = fc.string({ minLength: 1, maxLength: 16 });
  const serverFrame: fc.Arbitrary<ServerFrame> = fc.oneof(
    fc.record({ type: fc.constant('welcome' as const), node: id, epoch: fc.nat(), fingerprint: fc.string(), standIn: fc.boolean(), user: id }),
    fc.record({ type: fc.constant('reconnect' as const), node: id, url: id, epoch: fc.nat(), fingerprint: fc.string(), graceMs: fc.nat() }),
    fc.record({ type: fc.constant('redirect' as const), node: id, url: id, epoch: fc.nat(), fingerprint: fc.string(), reason: fc.constantFrom('not-owner' as const, 'draining' as const, 'capacity' as const) }),
    fc.record({ type: fc.constant('message' as const), data: fc.jsonValue(), pos, prev: pos }),
    fc.tuple(pos, pos, fc.boolean()).map(([a, b, certain]) => ({ type: 'gap' as const, from: Math.min(a, b), to: Math.max(a, b), certain })),
    fc.record({ type: fc.constantFrom('synced' as const, 'checkpoint' as const), pos }),
    fc.record({ type: fc.constant('error' as const), code: fc.string(), message: fc.string() }),
    fc.record({ type: fc.constant('pong' as const), ts: fc.nat() }),
  );
  const clientFrame: fc.Arbitrary<ClientFrame> = fc.oneof(
    fc.record({ type: fc.constant('message' as const), data: fc.jsonValue() }),
    fc.record({ type: fc.constant('ping' as const), ts: fc.nat() }),
    fc.record({ type: fc.constant('resume' as const), last: pos }),
  );

  it('decodes every encoded server frame to itself', () => {
    fc.assert(
      fc.property(serverFrame, (frame) => {
        expect(decodeServerFrame(encodeFrame(frame))).toEqual(JSON.parse(JSON.stringify(frame)));
      }),
      { numRuns: 1_000, seed: 12 },
    );
  });

  it('decodes every encoded client frame to itself', () => {
    fc.assert(
      fc.property(clientFrame, (frame) => {
        expect(decodeClientFrame(encodeFrame(frame))).toEqual(JSON.parse(JSON.stringify(frame)));
      }),
      { numRuns: 1_000, seed: 13 },
    );
  });

  it('names what is wrong with a broken frame', () => {
    const code = (text: string) => {
      try {
        decodeServerFrame(text);
        return 'ok';
      } catch (error) {
        return (error as ProtocolError).code;
      }
    };
    expect(code('{')).toBe('BAD_JSON');
    expect(code('[]')).toBe('BAD_FRAME');
    expect(code('{"type":1}')).toBe('BAD_FRAME');
    expect(code('{"type":"gap","from":5,"to":4}')).toBe('BAD_FRAME');
    expect(code('{"type":"teleport"}')).toBe('UNKNOWN_FRAME');
  });
});

describe('restart frame', () => {
  it('decodes with its delay, bounded so a frame cannot park a client for long; a bad one is a ProtocolError', () => {
    expect(decodeServerFrame('{"type":"restart","retryAfterMs":2500}')).toEqual({ type: 'restart', retryAfterMs: 2500 });
    expect(decodeServerFrame('{"type":"restart","retryAfterMs":1e12}')).toEqual({ type: 'restart', retryAfterMs: MAX_RESTART_DELAY_MS });
    for (const bad of ['{"type":"restart"}', '{"type":"restart","retryAfterMs":-1}', '{"type":"restart","retryAfterMs":"5"}']) {
      expect(() => decodeServerFrame(bad)).toThrow(ProtocolError);
    }
    expect(CloseCode.RESTARTING).toBe(4005);
  });
});
