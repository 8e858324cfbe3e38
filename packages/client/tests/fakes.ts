// In-memory stand-ins for sockets, fetch and timers, for testing the client's state machine alone.
// Everything real (ws, http, agents) is exercised in node.test.ts and test/integration.
import { generateKeyPairSync, sign } from 'node:crypto';
import { createRing, type Ring } from '@wsring/ring';
import { PROTOCOL_VERSION, encodeBase64Url, encodeFrame, topologySigningBytes, type ServerFrame, type Topology } from '@wsring/protocol';
import { createClient } from '../src/mod.js';
import type { ClientEvents, ClientOptions, FetchLike, WebSocketLike } from '../src/types.js';
import { ManualClock } from '../../../test/support/manual-clock.js';

// The repository's one manual clock (test/support): it has the shape of the client's `Clock`.
export { ManualClock };

export class FakeSocket implements WebSocketLike {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 3;
  readyState = FakeSocket.CONNECTING;
  readonly sent: string[] = [];
  closedBy: 'client' | 'server' | undefined;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly params: URLSearchParams;
  readonly base: string;

  constructor(readonly url: string) {
    const u = new URL(url);
    this.params = u.searchParams;
    this.base = `${u.protocol}//${u.host}${u.pathname}`;
  }

  get live(): boolean {
    return this.closedBy === undefined;
  }

  send(data: string): void {
    if (this.readyState !== FakeSocket.OPEN) throw new Error('fake socket not open');
    this.sent.push(data);
  }

  close(): void {
    if (this.closedBy) return;
    this.closedBy = 'client';
    this.readyState = FakeSocket.CLOSED;
  }

  // ---- driven by the test, as the node would ----
  serverOpen(): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.({});
  }

  serverSend(frame: ServerFrame | string): void {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : encodeFrame(frame) });
  }

  serverClose(code: number, reason = ''): void {
    if (this.closedBy) return;
    this.closedBy = 'server';
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.({ code, reason });
  }
}

/** A fetch whose responses the test hands out one at a time. */
export class FakeFetch {
  readonly requests: { url: string; resolve: (body: unknown) => void; reject: (error: Error) => void }[] = [];
  readonly fetch: FetchLike = (url, init) =>
    new Promise((resolve, reject) => {
      const request = {
        url,
        resolve: (body: unknown) => resolve({ ok: true, status: 200, json: async () => body }),
        reject,
      };
      this.requests.push(request);
      init?.signal?.addEventListener('abort', () => {
        const at = this.requests.indexOf(request);
        if (at >= 0) this.requests.splice(at, 1);
        reject(new Error('aborted'));
      });
    });

  /** Answer the oldest open request. */
  answer(body: unknown): void {
    const request = this.requests.shift();
    if (!request) throw new Error('no fetch pending');
    request.resolve(body);
  }

  fail(): void {
    const request = this.requests.shift();
    if (!request) throw new Error('no fetch pending');
    request.reject(new Error('connection refused'));
  }
}

/** An Ed25519 key pair standing for the fleet's: `publicKey` is what clients get as `topologyKey`. */
export function fleetKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: publicKey.export({ format: 'jwk' }).x as string,
    /** `topology` with a signature by this key over exactly its fields (whatever they say). */
    sign: (topology: Topology): Topology => {
      const { signature: _old, ...body } = topology;
      return { ...body, signature: encodeBase64Url(sign(null, topologySigningBytes(JSON.parse(JSON.stringify(body))), privateKey)) };
    },
  };
}

/** The key every fixture topology is signed with (clients without `topologyKey` ignore the signature). */
export const FLEET = fleetKey();

export interface Fixture {
  topology: Topology;
  ring: Ring;
}

/** A topology of nodes `ids` with WebSocket URLs ws://<id>.test/ws, signed by FLEET. */
export async function makeTopology(ids: string[], epoch: number): Promise<Fixture> {
  const ring = await createRing(ids.map((id) => ({ id, meta: { url: nodeUrl(id) } })));
  return {
    ring,
    topology: FLEET.sign({
      protocol: PROTOCOL_VERSION,
      epoch,
      fingerprint: ring.fingerprint,
      ring: ring.toJSON(),
      nodes: ids.map((id) => ({ id, url: nodeUrl(id), weight: 1, state: 'active' as const })),
    }),
  };
}

export const nodeUrl = (id: string) => `ws://${id}.test/ws`;

// WebCrypto runs its jobs (key imports, signature checks) on libuv's thread pool, so they finish after no fixed
// number of event-loop turns: count them, so `settle` can wait for them. The real functions do the work.
let cryptoJobs = 0;
const subtle = globalThis.crypto.subtle as unknown as Record<'verify' | 'importKey', (...args: unknown[]) => Promise<unknown>>;
for (const name of ['verify', 'importKey'] as const) {
  const real = subtle[name].bind(globalThis.crypto.subtle);
  subtle[name] = (...args: unknown[]) => {
    cryptoJobs++;
    return real(...args).finally(() => cryptoJobs--);
  };
}

/** Let promise chains (fetch, loadRing, signature checks) run to completion. */
export async function settle(): Promise<void> {
  for (;;) {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    if (cryptoJobs === 0) return;
    while (cryptoJobs > 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

export function welcome(node: string, epoch: number, standIn = false, user?: string): ServerFrame {
  return { type: 'welcome', node, epoch, fingerprint: 'f', standIn, ...(user === undefined ? {} : { user }) };
}

/**
 * A client over a fake clock, fetch and sockets (user `user-7`, bootstrap a.test and b.test unless `options`
 * say otherwise), recording every event it emits and every socket it opens.
 */
export function fakeClient(options: Partial<ClientOptions> = {}) {
  const clock = new ManualClock();
  const fetch = new FakeFetch();
  const sockets: FakeSocket[] = [];
  const WebSocket = class extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  };
  const client = createClient({ user: 'user-7', bootstrap: ['http://a.test', 'http://b.test'], WebSocket, fetch: fetch.fetch, clock, random: () => 0.5, ...options });
  const seen: { [K in keyof ClientEvents]: ClientEvents[K][] } = { open: [], message: [], gap: [], moved: [], reconnecting: [], close: [], error: [], state: [] };
  for (const name of Object.keys(seen) as (keyof ClientEvents)[]) client.on(name, (payload) => (seen[name] as unknown[]).push(payload));
  const last = () => sockets[sockets.length - 1];
  const live = () => sockets.filter((s) => s.live);
  return { client, clock, fetch, sockets, seen, last, live };
}
