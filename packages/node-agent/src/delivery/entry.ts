import { isUtf8 } from 'node:buffer';
import type { MsgHdrs } from '@nats-io/transport-node';

/** Header carrying the previous position of the same user, as the publisher had it confirmed by JetStream. */
export const PREV_HEADER = 'Wsring-Prev';
/** Header JetStream checks before storing: the sequence of the subject's last message must be this. */
export const EXPECTED_LAST_HEADER = 'Nats-Expected-Last-Subject-Sequence';
/** Header naming one publish (the caller's id, else one the publisher makes): after a lost acknowledgement it tells whether the stored message is ours. */
export const ID_HEADER = 'Wsring-Id';

const seqOf = (value: string | undefined): number | undefined => {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};

/** The previous position from a message's headers: ours, else the one JetStream adds when republishing. */
export function prevOf(headers: MsgHdrs | undefined): number | undefined {
  return seqOf(headers?.get(PREV_HEADER)) ?? seqOf(headers?.get('Nats-Last-Sequence'));
}

/** The stream sequence of a republished message. */
export function republishedSeq(headers: MsgHdrs | undefined): number | undefined {
  return seqOf(headers?.get('Nats-Sequence'));
}

const decoder = new TextDecoder();

/** Payloads are JSON; one written by another publisher that is not JSON is delivered as its text. */
export function decodeData(payload: Uint8Array): unknown {
  const text = decoder.decode(payload);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Whether `payload` is well-formed UTF-8 holding exactly one JSON value (so it can stand as a frame's `data` as it is). */
function isJsonText(payload: Uint8Array): boolean {
  if (!isUtf8(payload)) return false;
  try {
    JSON.parse(decoder.decode(payload));
    return true;
  } catch {
    return false;
  }
}

const HEAD = Buffer.from('{"type":"message","data":');
const POS = Buffer.from(',"pos":');
const PREV = Buffer.from(',"prev":');

/**
 * The `message` frame of a stored payload, as UTF-8 JSON text: `{"type":"message","data":<payload>,"pos":N[,"prev":M]}`,
 * the same frame `encodeFrame` makes from the decoded data. A payload stored by a wsring publisher (it carries
 * `Wsring-Id`) is copied in as it is, without the re-encode, once it has proved to be well-formed UTF-8 holding
 * exactly one JSON value: the header is no proof (anyone who may write to the stream can set it), and bytes such
 * as `0,"type":"checkpoint","pos":9` copied in unchecked would forge frame fields. Any other payload is decoded
 * (as `decodeData`) and encoded again.
 */
export function messageFrame(payload: Uint8Array, json: boolean, pos: number, prev: number | undefined): Buffer {
  const data = json && isJsonText(payload) ? payload : Buffer.from(JSON.stringify(decodeData(payload)));
  const p = String(pos);
  const q = prev === undefined ? '' : String(prev);
  const size = HEAD.length + data.length + POS.length + p.length + (prev === undefined ? 0 : PREV.length + q.length) + 1;
  const out = Buffer.allocUnsafe(size);
  let at = HEAD.copy(out, 0);
  out.set(data, at);
  at += data.length;
  at += POS.copy(out, at);
  at += out.write(p, at, "latin1");
  if (prev !== undefined) {
    at += PREV.copy(out, at);
    at += out.write(q, at, "latin1");
  }
  out[at] = 0x7d; // }
  return out;
}

/** One stored message as the delivery path handles it: its position, its predecessor's, its stored bytes. */
export class Entry {
  private encoded: Buffer | undefined;

  constructor(
    /** Stream sequence: the user's position. */
    readonly pos: number,
    /** Position of the user's previous message; 0 when it had none still stored; undefined when unknown. */
    readonly prev: number | undefined,
    private readonly payload: Uint8Array,
    /** Stored by a wsring publisher: the payload is JSON text as it is. */
    private readonly json: boolean,
  ) {}

  /** From a stored or republished message's sequence, headers and payload. */
  static of(pos: number, headers: MsgHdrs | undefined, payload: Uint8Array): Entry {
    // nats.js answers '' for a header that is not there.
    const id = headers?.get(ID_HEADER);
    return new Entry(pos, prevOf(headers), payload, id !== undefined && id !== '');
  }

  /**
   * This entry for keeping a while (a follower's pending buffer during a replay): nats.js hands payloads as views
   * into its socket read chunks, and a kept view would keep the whole chunk alive.
   */
  kept(): Entry {
    const p = this.payload;
    if (p.byteLength === p.buffer.byteLength) return this;
    // A copy in its own buffer (a Buffer's slice() would be another view of the same chunk).
    return new Entry(this.pos, this.prev, new Uint8Array(p), this.json);
  }

  /** The decoded data (what the client application receives). */
  get data(): unknown {
    return decodeData(this.payload);
  }

  /** The `message` frame, encoded once however many sessions it goes to. */
  frame(): Buffer {
    this.encoded ??= messageFrame(this.payload, this.json, this.pos, this.prev);
    return this.encoded;
  }
}
