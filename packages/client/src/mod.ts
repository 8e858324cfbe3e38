// @wsring/client: public entry. The client itself is added beside the protocol.
export * from './protocol.js';
