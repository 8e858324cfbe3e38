import type { RingErrorCode } from './types.js';

/**
 * Every error the library throws on bad input. `code` names the problem; `message` says where, without the code
 * (like the project's other errors: callers that print both format them together).
 */
export class RingError extends Error {
  readonly code: RingErrorCode;
  constructor(code: RingErrorCode, message: string) {
    super(message);
    this.name = 'RingError';
    this.code = code;
  }
}
