// The figures the issue asks of every fault, from what the clients saw since a mark, and one log line per fault.
import type { TrackedClient } from '../integration/support.js';

export interface ClientFigures {
  /** Clients that saw a close or a reconnect attempt they were not asked for (no `reconnect`/`redirect` frame). */
  dropped: number;
  /** `reconnect` frames received by all clients together. */
  reconnectFrames: number;
  /** Clients not open at the end. */
  notOpen: number;
}

type Socket = TrackedClient['sockets'][number];
const askedToLeave = (s: Socket) => s.frames.some((f) => f.frame.type === 'reconnect' || f.frame.type === 'redirect');

/** What each client had at a moment when all were open: figures count only what happened after it. */
export class ClientMark {
  private readonly at = performance.now();
  private readonly marks = new Map<TrackedClient, { sockets: number; reconnecting: number; moved: number }>();

  constructor(readonly clients: readonly TrackedClient[]) {
    for (const c of clients) {
      // The socket open at the mark is the last one; its close, if any, comes after the mark.
      this.marks.set(c, { sockets: Math.max(0, c.sockets.length - 1), reconnecting: c.events.reconnecting?.length ?? 0, moved: c.events.moved?.length ?? 0 });
    }
  }

  /** Sockets the client used since the mark. */
  socketsSince(c: TrackedClient): Socket[] {
    return c.sockets.slice(this.mark(c).sockets);
  }

  /** Moves since the mark. */
  movesSince(c: TrackedClient) {
    return (c.events.moved ?? []).slice(this.mark(c).moved);
  }

  reconnectFramesSince(c: TrackedClient): number {
    return this.socketsSince(c).reduce((n, s) => n + s.frames.filter((f) => f.frame.type === 'reconnect' && f.at >= this.at).length, 0);
  }

  /** Whether the client lost a socket it was not told to leave, or had to retry a connect, since the mark. */
  dropped(c: TrackedClient): boolean {
    return (c.events.reconnecting?.length ?? 0) > this.mark(c).reconnecting || this.socketsSince(c).some((s) => s.closeCode !== undefined && !askedToLeave(s));
  }

  figures(clients: readonly TrackedClient[] = this.clients): ClientFigures {
    return {
      dropped: clients.filter((c) => this.dropped(c)).length,
      reconnectFrames: clients.reduce((sum, c) => sum + this.reconnectFramesSince(c), 0),
      notOpen: clients.filter((c) => c.client.state !== 'open').length,
    };
  }

  private mark(c: TrackedClient) {
    const m = this.marks.get(c);
    if (!m) throw new Error(`client ${c.user} was not marked`);
    return m;
  }
}

/** `[faults] <title>: key value, key value, ...` (numbers with thousands separators, lists in brackets). */
export function report(title: string, figures: Record<string, unknown>): void {
  const show = (v: unknown): string =>
    typeof v === 'number' ? v.toLocaleString('en-US') : Array.isArray(v) ? `[${v.map(show).join(' ')}]` : v === undefined ? '-' : String(v);
  console.log(`[faults] ${title}: ${Object.entries(figures).map(([k, v]) => `${k} ${show(v)}`).join(', ')}`);
}
