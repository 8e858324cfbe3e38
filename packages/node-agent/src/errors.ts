export type AgentErrorCode =
  | 'INVALID_OPTION'
  | 'NO_MEMBERSHIP'
  | 'MEMBERSHIP_UNAVAILABLE'
  | 'CLOSED'
  /** `handoff()` found no successor waiting under the node's id. */
  | 'NO_SUCCESSOR';

/** A typed error for bad options or a failed start. `code` names the problem. */
export class AgentError extends Error {
  constructor(readonly code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
  }
}
