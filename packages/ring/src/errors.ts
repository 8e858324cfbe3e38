import type { RingErrorCode } from './types.js';

/** Every error the library throws on bad input. `code` names the problem; `message` says where. */
export class RingError extends Error {
  readonly code: RingErrorCode;
  constructor(code: RingErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'RingError';
    this.code = code;
  }
}
