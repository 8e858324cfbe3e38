// The `message` frame built from a stored payload is the frame `encodeFrame` makes from the decoded data: as it is
// for a wsring publisher's JSON, decoded and encoded again for anything another publisher stored.
import fc from 'fast-check';
import { encodeFrame } from '@wsring/protocol';
import { describe, expect, it } from 'vitest';
import { decodeData, Entry, messageFrame } from '../src/delivery/entry.js';

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

  it('never lets a payload marked as a wsring publisher\'s forge frame fields: bytes that are not exactly one JSON value are encoded again', () => {
    // Anyone who may write to the stream can set the publisher's header; the bytes still have to prove themselves.
    const forged = Buffer.from('0,"type":"checkpoint","pos":999999');
    const frame = JSON.parse(messageFrame(forged, true, 7, 6).toString('utf8'));
    expect(frame).toEqual(frameOf('0,"type":"checkpoint","pos":999999', 7, 6));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), position, fc.option(position, { nil: undefined }), (bytes, pos, prev) => {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(messageFrame(bytes, true, pos, prev));
        expect(JSON.parse(text)).toEqual(frameOf(decodeData(bytes), pos, prev));
      }),
      { seed: 17, numRuns: 300 },
    );
  });
});

describe('Entry.kept', () => {
  it('copies a payload that is a view into a larger buffer (a socket read chunk), and only then', () => {
    const chunk = Buffer.from('xx{"a":1}yy');
    const view = chunk.subarray(2, 9);
    const kept = Entry.of(3, undefined, view).kept();
    const payloadOf = (e: Entry) => (e as unknown as { payload: Uint8Array }).payload;
    expect(payloadOf(kept).buffer).not.toBe(chunk.buffer);
    expect(payloadOf(kept).byteLength).toBe(payloadOf(kept).buffer.byteLength);
    expect(kept.data).toEqual({ a: 1 });
    expect(kept.frame().toString()).toBe('{"type":"message","data":{"a":1},"pos":3}');
    const whole = Entry.of(4, undefined, new Uint8Array(Buffer.from('{"b":2}')));
    expect(whole.kept()).toBe(whole);
  });
});
