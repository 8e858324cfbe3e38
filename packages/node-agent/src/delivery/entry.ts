import type { MsgHdrs } from '@nats-io/transport-node';

/** Header carrying the previous position of the same user, as the publisher had it confirmed by JetStream. */
export const PREV_HEADER = 'Wsring-Prev';
/** Header JetStream checks before storing: the sequence of the subject's last message must be this. */
export const EXPECTED_LAST_HEADER = 'Nats-Expected-Last-Subject-Sequence';
/** Header naming one publish (the caller's id, else one the publisher makes): after a lost acknowledgement it tells whether the stored message is ours. */
export const ID_HEADER = 'Wsring-Id';

/** One stored message as the delivery path handles it. */
export interface Entry {
  /** Stream sequence: the user's position. */
  pos: number;
  /** Position of the user's previous message; 0 when it had none still stored; undefined when unknown. */
  prev: number | undefined;
  data: unknown;
}

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
