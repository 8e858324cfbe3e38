// Users as the sorted array of their 32-bit placement hashes: 4 bytes a user, no id strings kept.
// Every ring of one plan shares the seed, so one hash per user serves every step and every algorithm.
import { createReadStream, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createRing } from '@wsring/ring';
import { SimError } from './errors.js';
import { radixSortUint32 } from './radix.js';
import type { UserSource } from './types.js';

/** Default cap on users (4 bytes each, plus 4 more for rendezvous): raise it with `maxUsers`. */
export const DEFAULT_MAX_USERS = 50_000_000;
/** Below this many synthetic users a worker costs more to start than it saves. */
export const MIN_USERS_PER_WORKER = 500_000;

export interface UserLoadOptions {
  ringSeed: number;
  /** Threads hashing synthetic users (capped at the cores). Default 1: the main thread. */
  workers?: number;
  maxUsers?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface UserHashes {
  /** Placement hashes, ascending. */
  sorted: Uint32Array;
  /** Threads actually used. */
  workers: number;
}

export function syntheticId(i: number): string {
  return `user-${i}`;
}

export async function loadUserHashes(source: UserSource, opts: UserLoadOptions): Promise<UserHashes> {
  const maxUsers = opts.maxUsers ?? DEFAULT_MAX_USERS;
  if (source.kind === 'file') return { sorted: await hashFile(source.path, opts.ringSeed, maxUsers, opts.onProgress), workers: 1 };
  if (source.kind === 'ids') return { sorted: await hashIds(source.ids, opts.ringSeed, maxUsers, opts.onProgress), workers: 1 };
  const { count } = source;
  if (!Number.isInteger(count) || count < 0) throw new SimError('INVALID_OPTION', `users: ${String(count)} must be an integer >= 0`);
  if (count > maxUsers) throw new SimError('TOO_MANY_USERS', `${count} users is more than the limit of ${maxUsers} (raise it with --max-users)`);
  const wanted = Math.max(1, Math.min(opts.workers ?? 1, availableParallelism(), Math.floor(count / MIN_USERS_PER_WORKER)));
  const workerUrl = new URL('./hash-worker.js', import.meta.url);
  if (wanted > 1 && existsSync(fileURLToPath(workerUrl))) {
    return { sorted: await hashInWorkers(workerUrl, count, wanted, opts), workers: wanted };
  }
  const hasher = await createRing([{ id: 'h' }], { seed: opts.ringSeed });
  const out = new Uint32Array(count);
  const step = 1 << 18;
  for (let i = 0; i < count; i++) {
    out[i] = hasher.hashKey(syntheticId(i));
    if ((i + 1) % step === 0) opts.onProgress?.(i + 1, count);
  }
  opts.onProgress?.(count, count);
  return { sorted: radixSortUint32(out), workers: 1 };
}

async function hashInWorkers(url: URL, count: number, workers: number, opts: UserLoadOptions): Promise<Uint32Array> {
  const buffer = new SharedArrayBuffer(count * 4);
  const bounds = Array.from({ length: workers + 1 }, (_, w) => Math.round((count * w) / workers));
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, (_, w) =>
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(url, { workerData: { buffer, start: bounds[w], end: bounds[w + 1], ringSeed: opts.ringSeed } });
        worker.on('message', (m: { hashed: number; done?: boolean }) => {
          done += m.hashed;
          opts.onProgress?.(done, count);
          if (m.done) resolve();
        });
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`hash worker exited with code ${code}`))));
      }),
    ),
  );
  // Each worker sorted its own run; merge the runs pairwise.
  let runs: Uint32Array[] = bounds.slice(0, -1).map((s, w) => new Uint32Array(buffer, s * 4, bounds[w + 1] - s));
  while (runs.length > 1) {
    const next: Uint32Array[] = [];
    for (let i = 0; i < runs.length; i += 2) next.push(i + 1 < runs.length ? mergeSorted(runs[i], runs[i + 1]) : runs[i]);
    runs = next;
  }
  return runs[0];
}

export function mergeSorted(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i] <= b[j] ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}

/** Ids given as a list (scripts); a repeated id counts once per entry (one connection each), as in a file. */
async function hashIds(ids: readonly string[], ringSeed: number, maxUsers: number, onProgress?: (done: number, total: number) => void): Promise<Uint32Array> {
  if (!Array.isArray(ids)) throw new SimError('INVALID_OPTION', 'users: ids must be a list of user ids');
  if (ids.length > maxUsers) throw new SimError('TOO_MANY_USERS', `${ids.length} users is more than the limit of ${maxUsers} (raise it with maxUsers)`);
  const hasher = await createRing([{ id: 'h' }], { seed: ringSeed });
  const out = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'string' || id === '') throw new SimError('INVALID_OPTION', `users: ids[${i}] ${JSON.stringify(id)} is not a non-empty string`);
    out[i] = hasher.hashKey(id);
    if ((i + 1) % (1 << 18) === 0) onProgress?.(i + 1, ids.length);
  }
  onProgress?.(ids.length, ids.length);
  return radixSortUint32(out);
}

/** One id per line; blank lines are skipped, surrounding whitespace trimmed. A repeated id counts once per line (one connection each). */
async function hashFile(path: string, ringSeed: number, maxUsers: number, onProgress?: (done: number, total: number) => void): Promise<Uint32Array> {
  if (!existsSync(path)) throw new SimError('USERS_FILE', `users file ${path} does not exist`);
  const hasher = await createRing([{ id: 'h' }], { seed: ringSeed });
  let out = new Uint32Array(1024);
  let n = 0;
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const raw of lines) {
      const id = raw.trim();
      if (id === '') continue;
      if (n === maxUsers) throw new SimError('TOO_MANY_USERS', `${path} has more than ${maxUsers} users (raise the limit with --max-users)`);
      if (n === out.length) {
        const bigger = new Uint32Array(out.length * 2);
        bigger.set(out);
        out = bigger;
      }
      out[n++] = hasher.hashKey(id);
      if (n % (1 << 18) === 0) onProgress?.(n, n);
    }
  } catch (e) {
    if (e instanceof SimError) throw e;
    throw new SimError('USERS_FILE', `cannot read users file ${path}: ${(e as Error).message}`);
  }
  return radixSortUint32(out.slice(0, n));
}
