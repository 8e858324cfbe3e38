// Worker thread: hashes synthetic ids user-<start> .. user-<end-1> into its slice of a shared array and sorts it.
import { parentPort, workerData } from 'node:worker_threads';
import { createRing } from '@wsring/ring';
import { radixSortUint32 } from './radix.js';

interface Job {
  buffer: SharedArrayBuffer;
  start: number;
  end: number;
  ringSeed: number;
}

const { buffer, start, end, ringSeed } = workerData as Job;
const hasher = await createRing([{ id: 'h' }], { seed: ringSeed });
const out = new Uint32Array(buffer, start * 4, end - start);
const REPORT_EVERY = 1 << 18;
for (let i = start; i < end; i++) {
  out[i - start] = hasher.hashKey(`user-${i}`);
  if ((i - start + 1) % REPORT_EVERY === 0) parentPort!.postMessage({ hashed: REPORT_EVERY });
}
radixSortUint32(out);
parentPort!.postMessage({ hashed: (end - start) % REPORT_EVERY, done: true });
