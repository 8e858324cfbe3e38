// Turns what the client processes recorded after the mark into the rebalance benchmark's figures. Pure.

/** The q-quantile of sorted numbers (nearest rank). */
const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN);

function spread(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.at(-1) ?? NaN };
}

/** Largest number of events within any one-second window. */
export function peakPerSecond(times) {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= 1_000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/**
 * @param moved     movedKeys(prev, next, users): the users whose owner changed, with their new owner
 * @param activity  user -> what its sockets saw since the mark (see rebalance-clients.js); absent: nothing
 * @param finalNode user -> node the client is open on at the end
 */
export function summarize(moved, activity, finalNode) {
  const movedTo = new Map(moved.map((m) => [m.key, m.to]));
  let frames = 0;
  let redirects = 0;
  let repeated = 0;
  let sockets = 0;
  let touchedUnmoved = 0;
  for (const [user, a] of activity) {
    frames += a.reconnectFrames;
    redirects += a.redirectFrames;
    sockets += a.connects.length;
    if (a.reconnectFrames > 1) repeated++;
    if (!movedTo.has(user)) touchedUnmoved++;
  }

  // A moved client's hop splits into deciding to go (frame -> new socket; a frame naming a node the client's
  // topology lacks costs a /topology fetch first), the WebSocket handshake, and admission (handshake -> welcome).
  const arrivals = [];
  const hop = [];
  const decide = [];
  const handshake = [];
  const admit = [];
  let reached = 0;
  let landed = 0;
  let standIns = 0;
  for (const { key, to } of moved) {
    const a = activity.get(key);
    if (finalNode.get(key) === to) landed++;
    if (!a) continue;
    if (a.reconnectFrames > 0) reached++;
    if (a.opens.some((o) => o.node !== to && o.standIn)) standIns++;
    const at = a.opens.find((o) => o.node === to)?.at;
    if (at === undefined) continue;
    arrivals.push(at);
    if (a.frameAt === undefined) continue;
    hop.push(at - a.frameAt);
    const upgraded = a.upgrades.filter((t) => t <= at).at(-1);
    const created = a.connects.filter((t) => t <= (upgraded ?? at)).at(-1);
    if (upgraded === undefined || created === undefined) continue;
    decide.push(created - a.frameAt);
    handshake.push(upgraded - created);
    admit.push(at - upgraded);
  }
  return {
    moved: moved.length,
    frames,
    reached,
    repeated,
    redirects,
    sockets,
    touchedUnmoved,
    landed,
    standIns,
    lastArrival: arrivals.length ? Math.max(...arrivals) : NaN,
    peakArrivals: peakPerSecond(arrivals),
    hop: spread(hop),
    decide: spread(decide),
    handshake: spread(handshake),
    admit: spread(admit),
  };
}
