// Node entry of @wsring/client: the same client, with `ws` as the WebSocket when none is given.
// Node 20 has no global WebSocket; bundlers targeting browsers resolve the package to mod.ts and never see this file.
import { WebSocket } from 'ws';
import { createClient as createPortableClient } from './mod.js';
import type { ClientOptions, WebSocketConstructor, WsringClient } from './types.js';

export * from './mod.js';

export function createClient(options: ClientOptions): WsringClient {
  return createPortableClient({ ...options, WebSocket: options.WebSocket ?? (WebSocket as unknown as WebSocketConstructor) });
}
