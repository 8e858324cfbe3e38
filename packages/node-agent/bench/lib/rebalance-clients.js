// A client process of the rebalance benchmark: thousands of real @wsring/client instances bound to one local
// address, and a tap on each of their sockets that records what the wire brought after the parent's mark.
// Driven over IPC by bench/rebalance.js; see the message types in `handlers` below.
import { WebSocket } from 'ws';
import { createClient } from '@wsring/client';
import { loadRing } from '@wsring/ring';

/** Clients started but not yet open, at most: a gentle ramp keeps the agents' accept queues short. */
const CONNECT_WINDOW = 150;

/** What one user's sockets saw since the mark (times are Date.now()). Users with no entry saw nothing. */
function activity() {
  return { connects: [], upgrades: [], closes: 0, closeCodes: [], reconnectFrames: 0, frameAt: undefined, frames: [], frameTo: [], frameDelay: [], redirectFrames: 0, opens: [], moves: [] };
}

let marked = false;
/** user -> activity since the mark */
let log = new Map();
const touch = (user) => {
  let a = log.get(user);
  if (!a) log.set(user, (a = activity()));
  return a;
};

// The tap sits on the `ws` socket itself, beside the SDK's own handlers, so it counts frames as received on the
// wire whatever the SDK does with them.
function tappedWebSocket(localAddress) {
  return class TappedWebSocket extends WebSocket {
    constructor(url) {
      super(url, { localAddress });
      const user = new URL(url).searchParams.get('user') ?? '';
      if (marked) touch(user).connects.push(Date.now());
      // The WebSocket handshake is done; the node's welcome (the SDK's `open`) follows once the node has admitted the user.
      this.on('open', () => marked && touch(user).upgrades.push(Date.now()));
      this.on('message', (data, isBinary) => {
        if (!marked || isBinary) return;
        const text = data.toString();
        if (!text.includes('"reconnect"') && !text.includes('"redirect"')) return;
        const frame = JSON.parse(text);
        if (frame.type === 'reconnect') {
          const a = touch(user);
          a.reconnectFrames++;
          a.frameAt ??= Date.now();
          a.frames.push(Date.now());
          // Where it sends the user, and after how long (a drain's remainder, a restart slot).
          a.frameTo.push(frame.node);
          a.frameDelay.push(frame.delayMs ?? 0);
        } else if (frame.type === 'redirect') {
          touch(user).redirectFrames++;
        }
      });
      this.on('close', (code) => {
        if (!marked) return;
        const a = touch(user);
        a.closes++;
        a.closeCodes.push(code);
      });
    }
  };
}

/**
 * While filling: one `/topology` request in flight per URL, shared by every client that asks meanwhile (thousands of
 * clients in one process would otherwise fetch the same document at the same instant; each answer is fresh as of
 * its request). After the mark every client fetches for itself, as separate browsers would, unless `shareAfterMark`.
 */
function topologyFetch(shareAfterMark) {
  const inflight = new Map();
  return (url, init) => {
    if (marked && !shareAfterMark) return fetch(url, init);
    let p = inflight.get(url);
    if (!p) {
      p = fetch(url, { headers: { accept: 'application/json' } })
        .then(async (r) => ({ ok: r.ok, status: r.status, body: r.ok ? await r.json() : undefined }))
        .finally(() => inflight.delete(url));
      inflight.set(url, p);
    }
    return p.then((r) => ({ ok: r.ok, status: r.status, json: async () => r.body }));
  };
}

/** user -> its client */
const clients = new Map();
/** user -> node its client is open on (none while it is not open) */
const openNodes = (users) => users.map((u) => [u, clients.get(u)?.node]);
/** Moved users not yet open again; filled by `watch` */
let targets = new Set();
let pending = 0;
let lastArrival = 0;

/** A moved user has arrived once it is open again, on its new node or (after a failed connect) on a stand-in. */
function checkArrival(user, at) {
  if (!targets.delete(user)) return;
  pending--;
  lastArrival = Math.max(lastArrival, at);
  if (pending === 0) process.send({ type: 'arrived', at: lastArrival });
}

let makeClient;
/** The owners of this process's users under the last ring `offOwners` was asked about. */
let ownersFor;

/** Create a client per user, at most CONNECT_WINDOW not yet open at a time; resolve once every one has opened. */
async function connectAll(users) {
  let waiting = 0;
  let wake;
  for (const user of users) {
    while (waiting >= CONNECT_WINDOW) await new Promise((r) => (wake = r));
    waiting++;
    clients.get(user)?.close();
    const client = makeClient(user);
    clients.set(user, client);
    let first = true;
    client.on('open', (e) => {
      const at = Date.now();
      if (marked) touch(user).opens.push({ node: e.node, at, standIn: e.standIn });
      if (first) {
        first = false;
        waiting--;
        wake?.();
      }
      if (marked && pending > 0) checkArrival(user, at);
    });
    // Why the client changed node: a followed frame ('reconnect', 'redirect') or a failover.
    client.on('moved', (e) => marked && touch(user).moves.push({ at: Date.now(), reason: e.reason, from: e.from, to: e.to }));
  }
  while (waiting > 0) await new Promise((r) => (wake = r));
}

async function start({ users, bootstrap, localAddress, sharedFetch, topologyKey }) {
  const WebSocketImpl = tappedWebSocket(localAddress);
  const fetchImpl = topologyFetch(sharedFetch);
  const trust = topologyKey === undefined ? {} : { topologyKey };
  makeClient = (user) => createClient({ user, bootstrap, WebSocket: WebSocketImpl, fetch: fetchImpl, ...trust });
  const started = Date.now();
  await connectAll(users);
  process.send({ type: 'connected', ms: Date.now() - started, nodes: openNodes(users) });
}

const handlers = {
  start,
  /** Start these users' clients afresh (before the mark: ones that failed over to a stand-in during the fill). */
  async reseat({ users }) {
    await connectAll(users);
    process.send({ type: 'reseated', nodes: openNodes(users) });
  },
  mark() {
    marked = true;
    log = new Map();
    process.send({ type: 'marked' });
  },
  /** Report once every listed user has opened again after the mark. Sent before the fleet changes. */
  watch({ expected }) {
    targets = new Set(expected);
    pending = targets.size;
    lastArrival = 0;
    process.send({ type: 'watching' });
    if (pending === 0) process.send({ type: 'arrived', at: lastArrival });
  },
  /**
   * Where each client is open now, and nothing else: cheap enough to poll while a change runs (a `report` carries
   * every client's activity, whose serialization would stall this process's event loop in the middle of a wave).
   */
  where() {
    process.send({ type: 'where', nodes: openNodes([...clients.keys()]) });
  },
  /**
   * How many of this process's clients are not open on their owner under `ring` (a ring snapshot): what the parent
   * polls while a change runs. Counted here, owners worked out once per ring, so a poll costs the clients' process a
   * map lookup per user and the parent one number, not 40,000 owners hashed and shipped over IPC twice a second.
   */
  async offOwners({ ring }) {
    const key = JSON.stringify(ring);
    if (ownersFor?.key !== key) {
      const loaded = await loadRing(ring);
      ownersFor = { key, owners: new Map([...clients.keys()].map((u) => [u, loaded.owner(u)])) };
    }
    let off = 0;
    for (const [user, client] of clients) if (client.node !== ownersFor.owners.get(user)) off++;
    process.send({ type: 'offOwners', off });
  },
  report() {
    const states = {};
    for (const c of clients.values()) states[c.state] = (states[c.state] ?? 0) + 1;
    process.send({ type: 'report', activity: [...log], nodes: openNodes([...clients.keys()]), states, waitingFor: [...targets] });
  },
  stop() {
    for (const c of clients.values()) c.close();
    // Let the close frames go out, then leave.
    setTimeout(() => process.exit(0), 200);
  },
};

process.on('message', (m) => {
  Promise.resolve(handlers[m.type]?.(m)).catch((err) => {
    process.send({ type: 'failed', error: String(err?.stack ?? err) });
  });
});
process.on('disconnect', () => process.exit(0));
