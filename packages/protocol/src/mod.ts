// @wsring/protocol: the wire protocol between @wsring/client and @wsring/node-agent, defined once for both.
// Pure: no I/O, no timers, no Node built-ins; runs unchanged in browsers. docs/protocol.md is its prose form.
export { PROTOCOL_VERSION } from './version.js';
export { CloseCode, TERMINAL_CLOSE_CODES } from './close-codes.js';
export { ProtocolError, type ProtocolErrorCode } from './errors.js';
export { MAX_SESSION_ID_LENGTH, MAX_USER_ID_LENGTH, isValidSessionId, isValidUserId } from './limits.js';
export { MEMBER_STATES, isMemberState, type MemberState } from './member-state.js';
export { isWebSocketUrl, parseTopology, topologyUrls, type Topology, type TopologyNode } from './topology.js';
export { MAX_CANONICAL_DEPTH, canonicalJson } from './canonical-json.js';
export {
  TOPOLOGY_SIGNATURE_FIELD,
  decodeBase64,
  encodeBase64Url,
  importTopologyKey,
  topologySigningBytes,
  verifyTopologySignature,
  type TopologyPublicKey,
} from './topology-signature.js';
export { connectUrl, parseConnectParams, type ConnectParams } from './connect-params.js';
export { MAX_RESTART_DELAY_MS, decodeClientFrame, decodeServerFrame, encodeFrame } from './codec.js';
export type {
  CheckpointFrame,
  ClientFrame,
  ClientMessageFrame,
  ErrorFrame,
  GapFrame,
  MessageFrame,
  PingFrame,
  PongFrame,
  RestartFrame,
  ReconnectFrame,
  RedirectFrame,
  ResumeFrame,
  ServerFrame,
  SyncedFrame,
  WelcomeFrame,
} from './frames.js';
