/** The protocol version a `/topology` body reports as `protocol`; a client rejects any other. */
export const PROTOCOL_VERSION = 1;
