export type SimErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_SCENARIO'
  | 'UNKNOWN_NODE'
  | 'EMPTY_FLEET'
  | 'USERS_FILE'
  | 'TOO_MANY_USERS';

/** Every error the simulator reports on bad input: `code` names the problem, `message` says where. */
export class SimError extends Error {
  readonly code: SimErrorCode;
  constructor(code: SimErrorCode, message: string) {
    super(message);
    this.name = 'SimError';
    this.code = code;
  }
}
