// @wsring/ring: weighted consistent hashing with exact diffs between topologies.
// Pure: no I/O, no timers, no Node built-ins; the same placement in Node and in browsers.
export { createRing, loadRing } from './ring.js';
export { movedKeys } from './moved.js';
export { createKeyIndex } from './key-index.js';
export { RingError } from './errors.js';
export { DEFAULT_POINTS_PER_WEIGHT } from './validate.js';
export { defaultTableSize } from './maglev.js';
export type {
  Algorithm,
  KeyIndex,
  Move,
  MovedKey,
  NodeSpec,
  Ring,
  RingErrorCode,
  RingNode,
  RingOptions,
  RingSnapshot,
} from './types.js';
