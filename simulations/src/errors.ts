export type SimErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_SCENARIO'
  | 'UNKNOWN_NODE'
  | 'EMPTY_FLEET'
  | 'USERS_FILE'
  | 'TOO_MANY_USERS'
  | 'DUPLICATE_NODE'
  | 'OUTPUT_FILE'
  | 'NO_FLEET'
  | 'USAGE'
  | 'INTERNAL';

/** Every error the simulator reports on bad input: `code` names the problem, `message` says where. */
export class SimError extends Error {
  readonly code: SimErrorCode;
  constructor(code: SimErrorCode, message: string) {
    super(message);
    this.name = 'SimError';
    this.code = code;
  }
}

/** The one line every error is reported as: `wsring-sim: <CODE>: <message>`, newlines folded into spaces. */
export function errorLine(code: string, message: string): string {
  return `wsring-sim: ${code}: ${message.replace(/\s*\n\s*/g, ' ').trim()}\n`;
}
