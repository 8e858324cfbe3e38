// Frames to and from JSON text. Decoding trusts nothing: any text gives a frame or a ProtocolError, never
// another exception (tests/codec.test.ts checks that on arbitrary input).
import { ProtocolError } from './errors.js';
import type { ClientFrame, ServerFrame } from './frames.js';
import type { Topology } from './topology.js';
import { isValidSessionId, isValidUserId } from './limits.js';

export function encodeFrame(frame: ServerFrame | ClientFrame): string {
  return JSON.stringify(frame);
}

function parseObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('BAD_JSON', 'frame is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ProtocolError('BAD_FRAME', 'frame is not a JSON object');
  const obj = value as Record<string, unknown>;
  if (typeof obj.type !== 'string') throw new ProtocolError('BAD_FRAME', 'frame has no string `type`');
  return obj;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isStr = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
/**
 * Any JSON value as text. Not String(): a parsed object may carry its own `toString` or `valueOf` key, and
 * String() on it then throws a TypeError instead of the ProtocolError callers expect.
 */
const asText = (x: unknown): string => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x));
/** A delivery position: a non-negative safe integer. */
const isPos = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** Looks like a `/topology` body (an object with a ring object); `parseTopology` checks the rest before use. */
function isTopologyShaped(x: unknown): x is Topology {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const ring = (x as Record<string, unknown>).ring;
  return ring !== null && typeof ring === 'object' && !Array.isArray(ring);
}

const unknownType = (type: unknown) => new ProtocolError('UNKNOWN_FRAME', `unknown frame type ${JSON.stringify(type).slice(0, 64)}`);

/** Parse and validate a frame sent by a client. Throws ProtocolError. */
export function decodeClientFrame(text: string): ClientFrame {
  const f = parseObject(text);
  switch (f.type) {
    case 'message':
      if (!('data' in f)) throw new ProtocolError('BAD_FRAME', 'message frame without data');
      return { type: 'message', data: f.data };
    case 'ping':
      return { type: 'ping', ts: isNum(f.ts) ? f.ts : 0 };
    case 'resume':
      if (!isPos(f.last)) throw new ProtocolError('BAD_FRAME', 'resume frame needs `last`, a non-negative integer');
      return { type: 'resume', last: f.last };
    default:
      throw unknownType(f.type);
  }
}

/** Longest delay a `restart` frame may ask of a client. */
export const MAX_RESTART_DELAY_MS = 120_000;

/** Parse and validate a frame sent by an agent. Throws ProtocolError. */
export function decodeServerFrame(text: string): ServerFrame {
  const f = parseObject(text);
  switch (f.type) {
    case 'welcome':
      if (!isStr(f.node) || !isNum(f.epoch) || typeof f.fingerprint !== 'string') throw new ProtocolError('BAD_FRAME', 'bad welcome frame');
      return {
        type: 'welcome',
        node: f.node,
        epoch: f.epoch,
        fingerprint: f.fingerprint,
        standIn: f.standIn === true,
        ...(isValidSessionId(f.session) ? { session: f.session } : {}),
        ...(isValidUserId(f.user) ? { user: f.user } : {}),
      };
    case 'redirect':
    case 'reconnect':
      if (!isStr(f.node) || !isStr(f.url) || !isNum(f.epoch) || typeof f.fingerprint !== 'string') throw new ProtocolError('BAD_FRAME', `bad ${f.type} frame`);
      {
        // An inline topology is only shaped here; the client validates it (ring, fingerprint, target) before use.
        const topology = isTopologyShaped(f.topology) ? { topology: f.topology } : {};
        if (f.type === 'redirect') {
          const reason = f.reason === 'draining' || f.reason === 'capacity' ? f.reason : 'not-owner';
          return { type: 'redirect', node: f.node, url: f.url, epoch: f.epoch, fingerprint: f.fingerprint, reason, ...topology };
        }
        return { type: 'reconnect', node: f.node, url: f.url, epoch: f.epoch, fingerprint: f.fingerprint, graceMs: isNum(f.graceMs) ? f.graceMs : 0, ...topology };
      }
    case 'message':
      if (!('data' in f)) throw new ProtocolError('BAD_FRAME', 'message frame without data');
      if (!isPos(f.pos)) return { type: 'message', data: f.data };
      return isPos(f.prev) ? { type: 'message', data: f.data, pos: f.pos, prev: f.prev } : { type: 'message', data: f.data, pos: f.pos };
    case 'gap':
      if (!isPos(f.from) || !isPos(f.to) || f.to < f.from) throw new ProtocolError('BAD_FRAME', 'bad gap frame');
      return { type: 'gap', from: f.from, to: f.to, certain: f.certain === true };
    case 'synced':
    case 'checkpoint':
      if (!isPos(f.pos)) throw new ProtocolError('BAD_FRAME', `bad ${f.type} frame`);
      return { type: f.type, pos: f.pos };
    case 'error':
      return { type: 'error', code: asText(f.code), message: asText(f.message ?? '') };
    case 'pong':
      return { type: 'pong', ts: isNum(f.ts) ? f.ts : 0 };
    case 'restart':
      // Bounded: a frame must not park a client for long (a forged one would keep it away from its node).
      if (!isNum(f.retryAfterMs) || f.retryAfterMs < 0) throw new ProtocolError('BAD_FRAME', 'bad restart frame');
      return { type: 'restart', retryAfterMs: Math.min(f.retryAfterMs, MAX_RESTART_DELAY_MS) };
    default:
      throw unknownType(f.type);
  }
}
