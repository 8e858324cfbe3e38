// Decoding frames from the wire: whatever text arrives, the result is a frame or a ProtocolError, never another
// exception (a TypeError here would escape as a crash wherever the caller only expects ProtocolError).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, decodeClientFrame, decodeServerFrame } from '../src/protocol.js';

const FRAME_TYPES = ['welcome', 'redirect', 'reconnect', 'message', 'gap', 'synced', 'checkpoint', 'error', 'pong', 'ping', 'resume'];
/** Keys that name the frames' fields, plus the ones that shadow Object.prototype methods once parsed. */
const FIELD = fc.constantFrom('node', 'url', 'epoch', 'fingerprint', 'code', 'message', 'data', 'pos', 'prev', 'from', 'to', 'last', 'ts', 'topology', 'toString', 'valueOf', 'toJSON', '__proto__');

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
