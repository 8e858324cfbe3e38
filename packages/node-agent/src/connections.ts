import type { WebSocket } from 'ws';
import type { KeyIndex } from '@wsring/ring';
import { encodeFrame, type ServerFrame } from '@wsring/protocol';
import type { Connection } from './types.js';

const TEXT = { binary: false } as const;

/** One socket of a user: a session (a tab, a device). A user holds up to `maxSessionsPerUser` of them on its node. */
export class ClientConnection implements Connection {
  standIn: boolean;
  /** The newest epoch this client is known to hold: the one it connected with or was welcomed with. */
  knownEpoch = 0;

  constructor(
    readonly userId: string,
    readonly socket: WebSocket,
    standIn: boolean,
    readonly connectedAt: number,
    /** This socket's session id, unique among the user's sessions on this node (sent in the welcome). */
    readonly sessionId: string = '',
  ) {
    this.standIn = standIn;
  }

  sendFrame(frame: ServerFrame): boolean {
    if (this.socket.readyState !== this.socket.OPEN) return false;
    this.socket.send(encodeFrame(frame));
    return true;
  }

  /** Send an already encoded frame. */
  sendText(text: string): boolean {
    if (this.socket.readyState !== this.socket.OPEN) return false;
    this.socket.send(text);
    return true;
  }

  /** Send a frame already encoded as UTF-8 JSON text (as a text frame). */
  sendEncoded(frame: Uint8Array): boolean {
    if (this.socket.readyState !== this.socket.OPEN) return false;
    this.socket.send(frame, TEXT);
    return true;
  }

  send(data: unknown): boolean {
    return this.sendFrame({ type: 'message', data });
  }
}

/** What registering a session displaced: sockets the admitter must close, and why. */
export interface Displaced {
  /** An older socket of the same session (the tab reconnected while its old socket lingered). */
  sameSession: ClientConnection | undefined;
  /** The user's oldest sessions, past the per-user limit. */
  overLimit: ClientConnection[];
}

/**
 * The users connected to this node and their sessions (oldest first), a key index over the users (not the
 * sessions: the planner's work is per user), and the stand-ins (users held here for a node they could not
 * reach or that was full). `size` counts sessions (what capacity bounds); `users` counts users.
 */
export class ConnectionRegistry {
  /** A user's lone session as itself (most users hold one), several as an array, oldest first. */
  private readonly byUser = new Map<string, ClientConnection | ClientConnection[]>();
  private sessions = 0;
  readonly standIns = new Map<string, Set<string>>();

  constructor(readonly index: KeyIndex) {}

  /** Open sessions on this node. */
  get size(): number {
    return this.sessions;
  }

  /** Users with at least one open session on this node. */
  get users(): number {
    return this.byUser.size;
  }

  /** The user's newest session. */
  get(userId: string): ClientConnection | undefined {
    const held = this.byUser.get(userId);
    return Array.isArray(held) ? held[held.length - 1] : held;
  }

  /** The user's sessions, oldest first (empty when none). */
  sessionsOf(userId: string): readonly ClientConnection[] {
    const held = this.byUser.get(userId);
    return held === undefined ? [] : Array.isArray(held) ? held : [held];
  }

  /**
   * Register a session. It takes the place of an older socket of the same session id, and past
   * `maxPerUser` the user's oldest sessions make room; both are returned (already unregistered).
   */
  add(conn: ClientConnection, avoid: readonly string[], maxPerUser = Infinity): Displaced {
    const held = this.byUser.get(conn.userId);
    let sameSession: ClientConnection | undefined;
    let overLimit: ClientConnection[] = [];
    if (held === undefined) {
      this.byUser.set(conn.userId, conn);
      this.index.add(conn.userId);
      this.sessions++;
    } else {
      const list = Array.isArray(held) ? [...held] : [held];
      const same = conn.sessionId === '' ? -1 : list.findIndex((c) => c.sessionId === conn.sessionId);
      sameSession = same >= 0 ? list.splice(same, 1)[0] : undefined;
      if (sameSession) this.sessions--;
      list.push(conn);
      this.sessions++;
      overLimit = list.length > maxPerUser ? list.splice(0, list.length - maxPerUser) : [];
      this.sessions -= overLimit.length;
      this.byUser.set(conn.userId, list.length === 1 ? list[0] : list);
      // The latest admission decides how the node holds the user; every session of it follows.
      for (const c of list) c.standIn = conn.standIn;
    }
    if (conn.standIn) this.standIns.set(conn.userId, new Set(avoid));
    else this.standIns.delete(conn.userId);
    return { sameSession, overLimit };
  }

  /**
   * Remove a session if it is still registered. Returns 'user-gone' when it was the user's last one, 'session-gone'
   * when others remain, false when it was not registered (already displaced).
   */
  remove(conn: ClientConnection): 'user-gone' | 'session-gone' | false {
    const held = this.byUser.get(conn.userId);
    if (held === undefined) return false;
    if (Array.isArray(held)) {
      const at = held.indexOf(conn);
      if (at < 0) return false;
      const rest = held.filter((c) => c !== conn);
      this.sessions--;
      this.byUser.set(conn.userId, rest.length === 1 ? rest[0] : rest);
      return 'session-gone';
    }
    if (held !== conn) return false;
    this.sessions--;
    this.byUser.delete(conn.userId);
    this.index.delete(conn.userId);
    this.standIns.delete(conn.userId);
    return 'user-gone';
  }

  /** A stand-in this node now owns. */
  promote(userId: string): void {
    this.standIns.delete(userId);
    for (const c of this.sessionsOf(userId)) c.standIn = false;
  }

  /** Every session. */
  *all(): IterableIterator<ClientConnection> {
    for (const held of this.byUser.values()) {
      if (Array.isArray(held)) yield* held;
      else yield held;
    }
  }
}
