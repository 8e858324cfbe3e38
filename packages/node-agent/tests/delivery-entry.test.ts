// The `message` frame built from a stored payload is the frame `encodeFrame` makes from the decoded data: as it is
// for a wsring publisher's JSON, decoded and encoded again for anything another publisher stored.
import fc from 'fast-check';
import { encodeFrame } from '@wsring/protocol';
import { describe, expect, it } from 'vitest';
import { decodeData, messageFrame } from '../src/delivery/entry.js';

const frameOf = (data: unknown, pos: number, prev: number | undefined) =>
  prev === undefined ? { type: 'message' as const, data, pos } : { type: 'message' as const, data, pos, prev };
const position = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

describe('messageFrame', () => {
  it("copies a wsring publisher's JSON payload in as it is", () => {
    fc.assert(
      fc.property(fc.jsonValue(), position, fc.option(position, { nil: undefined }), (value, pos, prev) => {
        const text = JSON.stringify(value);
        const frame = messageFrame(Buffer.from(text), true, pos, prev);
        expect(JSON.parse(frame.toString('utf8'))).toEqual(JSON.parse(encodeFrame(frameOf(value, pos, prev))));
      }),
      { seed: 16, numRuns: 300 },
    );
  });

  it('decodes and encodes again any other payload (not JSON, not even UTF-8): valid JSON text, the data decodeData gives', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), position, fc.option(position, { nil: undefined }), (bytes, pos, prev) => {
        const frame = messageFrame(bytes, false, pos, prev);
        const text = new TextDecoder('utf-8', { fatal: true }).decode(frame);
        expect(JSON.parse(text)).toEqual(frameOf(decodeData(bytes), pos, prev));
      }),
      { seed: 16, numRuns: 300 },
    );
  });
});
