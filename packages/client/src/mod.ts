// @wsring/client: connects a user straight to the node that owns it and follows the fleet as it changes.
// Runs unchanged in browsers and Node; the Node entry (node.ts) only adds `ws` as the default WebSocket.
export {
  createClient,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FAILOVER_DEPTH,
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MAX_EPOCH_LEAD,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_MOVE_CONFIRM_DELAY_MS,
  DEFAULT_MOVE_CONFIRM_RETRIES,
  DEFAULT_PING_INTERVAL_MS,
} from './client.js';
export { DEFAULT_BACKOFF } from './backoff.js';
export { ClientError } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export type {
  BackoffOptions,
  ClientEvents,
  ClientOptions,
  ClientState,
  Clock,
  CloseEvent,
  FetchLike,
  GapEvent,
  MovedEvent,
  MoveReason,
  OpenEvent,
  ReconnectingEvent,
  Timers,
  WebSocketConstructor,
  WebSocketLike,
  WsringClient,
} from './types.js';
// The wire protocol as client users meet it (close codes, frames, the topology body). It lives in @wsring/protocol;
// these names stay importable from the client so applications need one dependency.
export {
  CloseCode,
  connectUrl,
  decodeClientFrame,
  decodeServerFrame,
  encodeFrame,
  MAX_USER_ID_LENGTH,
  isValidUserId,
  parseConnectParams,
  PROTOCOL_VERSION,
  ProtocolError,
  TERMINAL_CLOSE_CODES,
} from '@wsring/protocol';
export type {
  CheckpointFrame,
  ClientFrame,
  ClientMessageFrame,
  ConnectParams,
  ErrorFrame,
  GapFrame,
  MemberState,
  MessageFrame,
  PingFrame,
  PongFrame,
  ProtocolErrorCode,
  ReconnectFrame,
  RedirectFrame,
  ResumeFrame,
  ServerFrame,
  SyncedFrame,
  Topology,
  TopologyNode,
  TopologyPublicKey,
  WelcomeFrame,
} from '@wsring/protocol';
