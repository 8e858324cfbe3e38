// @wsring/node-agent: runs inside each WebSocket server. Membership in NATS, exact moved users,
// paced targeted reconnects, redirects at connect, drain.
export { createAgent } from './agent.js';
export { MemoryMembership } from './membership/memory.js';
export { NatsMembership, type NatsMembershipOptions } from './membership/nats.js';
export { ASYMMETRIC_ALGORITHMS, AuthRejectedError, AuthUnavailableError, MIN_HS256_SECRET_BYTES, jwtAuthenticator, trustUserParam, tokenOf, withAuthTimeout, type JwtOptions } from './auth.js';
export { MAX_USER_ID_LENGTH } from '@wsring/protocol';
export { AgentError, type AgentErrorCode } from './errors.js';
export { createTopologySigner, generateTopologyKeyPair, type TopologySigner, type TopologySigningKey } from './topology-signer.js';
export {
  createPublisher,
  DELIVERY_DEFAULTS,
  DeliveryError,
  streamConfig,
  userToken,
  userOfToken,
  subjectOf,
  type DeliveryErrorCode,
  type DeliveryOptions,
  type Published,
  type Publisher,
  type PublisherOptions,
  type PublishOptions,
} from './delivery/mod.js';
export { DEFAULTS } from './options.js';
export { systemClock, type Clock } from './clock.js';
export type {
  Agent,
  AgentEvents,
  AgentOptions,
  AgentState,
  AgentTopology,
  Authenticate,
  AuthIdentity,
  Connection,
  HealthReport,
  Logger,
  MemberRecord,
  MemberState,
  Membership,
  MembershipEvent,
  MessageRateOptions,
  NatsOptions,
  PacingOptions,
  RebalanceEvent,
  StoredTopology,
} from './types.js';
export {
  previewChange,
  describeChange,
  parseChange,
  PreviewError,
  type AddedNode,
  type FleetPreview,
  type PreviewErrorCode,
  type PreviewFlow,
  type PreviewNode,
  type PreviewOptions,
  type ProposedChange,
} from './preview.js';
