import type { WebSocket } from 'ws';
import type { KeyIndex } from '@wsring/ring';
import { encodeFrame, type ServerFrame } from '@wsring/protocol';
import type { Connection } from './types.js';

export class ClientConnection implements Connection {
  standIn: boolean;
  /** The newest epoch this client is known to hold: the one it connected with or was welcomed with. */
  knownEpoch = 0;

  constructor(readonly userId: string, readonly socket: WebSocket, standIn: boolean, readonly connectedAt: number) {
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

  send(data: unknown): boolean {
    return this.sendFrame({ type: 'message', data });
  }
}

/**
 * The users connected to this node: one connection per user, a key index over them for the
 * planner, and the stand-ins (users held here for a node they could not reach or that was full).
 */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, ClientConnection>();
  readonly standIns = new Map<string, Set<string>>();

  constructor(readonly index: KeyIndex) {}

  get size(): number {
    return this.byUser.size;
  }

  get(userId: string): ClientConnection | undefined {
    return this.byUser.get(userId);
  }

  /** Register a connection; returns the one it replaces, if any. */
  add(conn: ClientConnection, avoid: readonly string[]): ClientConnection | undefined {
    const previous = this.byUser.get(conn.userId);
    this.byUser.set(conn.userId, conn);
    this.index.add(conn.userId);
    if (conn.standIn) this.standIns.set(conn.userId, new Set(avoid));
    else this.standIns.delete(conn.userId);
    return previous;
  }

  /** Remove a connection if it is still the user's current one. Returns whether it was. */
  remove(conn: ClientConnection): boolean {
    if (this.byUser.get(conn.userId) !== conn) return false;
    this.byUser.delete(conn.userId);
    this.index.delete(conn.userId);
    this.standIns.delete(conn.userId);
    return true;
  }

  /** A stand-in this node now owns. */
  promote(userId: string): void {
    this.standIns.delete(userId);
    const c = this.byUser.get(userId);
    if (c) c.standIn = false;
  }

  all(): IterableIterator<ClientConnection> {
    return this.byUser.values();
  }
}
