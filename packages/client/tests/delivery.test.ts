// Client-side ordering and dedupe, against a model of a node that loses and repeats live frames and replays on
// request (one socket is FIFO, so frames are never reordered). Pure: no sockets (the real-socket path is covered by the integration suite).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialPosition, judgeCheckpoint, judgeGap, judgeMessage, judgeSynced, type Position } from '../src/delivery.js';
import { initialContext, transition, type Context } from '../src/machine.js';

interface Msg {
  pos: number;
  prev: number;
}

/** A user's chain: strictly increasing positions (other users' messages fill the holes), each naming its predecessor. */
function chainOf(steps: number[], start: number): Msg[] {
  const out: Msg[] = [];
  let prev = start;
  for (const step of steps) {
    const pos = prev + step;
    out.push({ pos, prev });
    prev = pos;
  }
  return out;
}

type Net =
  /** The next live message goes out. */
  | { kind: 'live' }
  /** The next live message is lost on the way. */
  | { kind: 'lose' }
  /** A message already sent goes out again (replay overlapping live). */
  | { kind: 'repeat'; index: number }
  /** The node answers an outstanding resume: replays everything after the client's last, then synced. */
  | { kind: 'answer' }
  /** The client reconnects with its last position: the node replays from it. */
  | { kind: 'reconnect' };

const net: fc.Arbitrary<Net> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Net>({ kind: 'live' }) },
  { weight: 2, arbitrary: fc.constant<Net>({ kind: 'lose' }) },
  { weight: 2, arbitrary: fc.nat(200).map((index): Net => ({ kind: 'repeat', index })) },
  { weight: 2, arbitrary: fc.constant<Net>({ kind: 'answer' }) },
  { weight: 1, arbitrary: fc.constant<Net>({ kind: 'reconnect' }) },
);

describe('client delivery position', () => {
  it('hands every message of the chain to the application exactly once, in order, whatever the network does', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 60 }), fc.nat(1000), fc.array(net, { maxLength: 200 }), (steps, start, script) => {
        const chain = chainOf(steps, start);
        // The client connected fresh when the chain started: synced to `start`.
        let p: Position = judgeSynced(initialPosition(), { pos: start });
        const delivered: number[] = [];
        let outbox: Msg[] = [];
        let next = 0;
        let resumeAsked = false;
        const replay = () => {
          for (const m of chain.slice(0, next)) if (m.pos > (p.last ?? -1)) outbox.push(m);
          // Synced names the store's end at replay time; later messages come live.
          outbox.push({ pos: -1, prev: next > 0 ? chain[next - 1].pos : start });
        };
        const receive = (m: Msg) => {
          if (m.pos === -1) {
            p = judgeSynced(p, { pos: m.prev });
            return;
          }
          const r = judgeMessage(p, m);
          p = r.position;
          if (r.verdict === 'deliver') delivered.push(m.pos);
          if (r.verdict === 'resume') resumeAsked = true;
        };
        for (const step of script) {
          if (step.kind === 'live' && next < chain.length) outbox.push(chain[next++]);
          else if (step.kind === 'lose' && next < chain.length) next++;
          else if (step.kind === 'repeat' && next > 0) outbox.push(chain[step.index % next]);
          else if (step.kind === 'answer' && resumeAsked) {
            resumeAsked = false;
            replay();
          } else if (step.kind === 'reconnect') {
            outbox = [];
            resumeAsked = false;
            p = { ...p, resuming: false };
            replay();
          }
          const frame = outbox.shift();
          if (frame) receive(frame);
        }
        // Whatever is still on the way arrives, then one last reconnect brings the rest.
        for (const m of outbox.splice(0)) receive(m);
        next = chain.length;
        p = { ...p, resuming: false };
        replay();
        for (const m of outbox.splice(0)) receive(m);
        expect(delivered).toEqual(chain.map((m) => m.pos));
      }),
      { seed: 4242, numRuns: 500 },
    );
  });

  it('drops positions at or below the last one and asks to resume at most once per gap', () => {
    let p = judgeSynced(initialPosition(), { pos: 10 });
    expect(judgeMessage(p, { pos: 10, prev: 3 }).verdict).toBe('duplicate');
    const first = judgeMessage(p, { pos: 20, prev: 15 });
    expect(first.verdict).toBe('resume');
    p = first.position;
    expect(judgeMessage(p, { pos: 25, prev: 20 }).verdict).toBe('wait');
    const filled = judgeMessage(p, { pos: 15, prev: 10 });
    expect(filled.verdict).toBe('deliver');
    expect(judgeSynced(filled.position, { pos: 12 })).toEqual({ last: 15, resuming: false });
  });

  it('moves an idle position forward on a checkpoint, but not while a resume is out', () => {
    const p = judgeSynced(initialPosition(), { pos: 7 });
    expect(judgeCheckpoint(p, { pos: 20 })).toEqual({ last: 20, resuming: false });
    expect(judgeCheckpoint(p, { pos: 5 })).toEqual(p);
    const resuming = judgeMessage(p, { pos: 30, prev: 12 }).position;
    expect(judgeCheckpoint(resuming, { pos: 40 })).toBe(resuming);
    expect(judgeCheckpoint(initialPosition(), { pos: 40 })).toEqual(initialPosition());
  });

  it('delivers unlogged messages as they come and accepts a chain restart (prev 0)', () => {
    const p = judgeSynced(initialPosition(), { pos: 7 });
    expect(judgeMessage(p, { pos: undefined, prev: undefined })).toEqual({ position: p, verdict: 'deliver' });
    expect(judgeMessage(p, { pos: 30, prev: 0 })).toEqual({ position: { last: 30, resuming: false }, verdict: 'deliver' });
  });

  it('reports a loss once, from just after the last position, and continues after it', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(1000), fc.integer({ min: 1, max: 1000 }), (last, from, len) => {
        const p = judgeSynced(initialPosition(), { pos: last });
        const to = from + len;
        const judged = judgeGap(p, { from, to });
        if (to <= last) {
          expect(judged).toBeUndefined();
          return;
        }
        expect(judged?.lost).toEqual({ from: Math.max(from, last + 1), to });
        expect(judged?.position.last).toBe(to);
        // The message after the gap names a lost predecessor at or below `to`: delivered.
        expect(judgeMessage(judged!.position, { pos: to + 1, prev: to }).verdict).toBe('deliver');
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('the state machine emits messages, asks to resume on a gap, reports losses and tracks the position', () => {
    let ctx: Context = { ...initialContext({ user: 'u', failoverDepth: 3, maxRedirects: 3, maxEpochLead: 16, refreshableToken: false, moveConfirmRetries: 4, moveConfirmDelayMs: 250 }), current: 'n1', target: 'n1' };
    const step = (input: Parameters<typeof transition>[2]) => {
      const s = transition('open', ctx, input)!;
      ctx = s.ctx;
      return s.effects;
    };
    expect(step({ type: 'synced', pos: 10 })).toEqual([]);
    expect(step({ type: 'message', data: 'a', pos: 12, prev: 4 })).toEqual([{ type: 'emit', event: 'message', payload: 'a' }]);
    expect(step({ type: 'message', data: 'a', pos: 12, prev: 4 })).toEqual([]);
    expect(step({ type: 'message', data: 'c', pos: 20, prev: 15 })).toEqual([{ type: 'send', frame: { type: 'resume', last: 12 } }]);
    expect(step({ type: 'message', data: 'd', pos: 22, prev: 20 })).toEqual([]);
    expect(step({ type: 'message', data: 'b', pos: 15, prev: 12 })).toEqual([{ type: 'emit', event: 'message', payload: 'b' }]);
    expect(step({ type: 'gap', from: 16, to: 18, certain: true })).toEqual([{ type: 'emit', event: 'gap', payload: { recovered: false, from: 16, to: 18, certain: true } }]);
    expect(step({ type: 'synced', pos: 19 })).toEqual([]);
    expect(step({ type: 'checkpoint', pos: 30 })).toEqual([]);
    expect(ctx.position).toEqual({ last: 30, resuming: false });
  });
});
