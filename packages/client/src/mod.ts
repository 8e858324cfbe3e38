// @wsring/client: connects a user straight to the node that owns it and follows the fleet as it changes.
// Runs unchanged in browsers and Node; the Node entry (node.ts) only adds `ws` as the default WebSocket.
export {
  createClient,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FAILOVER_DEPTH,
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_PING_INTERVAL_MS,
} from './client.js';
export { DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS, backoffCeiling } from './backoff.js';
export { ClientError } from './errors.js';
export { initialPosition, judgeCheckpoint, judgeGap, judgeMessage, judgeSynced, type Position, type Verdict } from './delivery.js';
export type { ClientErrorCode } from './errors.js';
export type {
  BackoffOptions,
  ClientEvents,
  ClientOptions,
  ClientState,
  CloseEvent,
  FetchLike,
  GapEvent,
  LoadedTopology,
  MovedEvent,
  MoveReason,
  OpenEvent,
  ReconnectingEvent,
  Timers,
  WebSocketConstructor,
  WebSocketLike,
  WsringClient,
} from './types.js';
export * from './protocol.js';
