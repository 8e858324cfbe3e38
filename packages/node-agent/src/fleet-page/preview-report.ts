// The fleet-wide preview from the agents' answers: totals, flows (from, to), every node's load before and after,
// and the expected wave at the receivers' accept rates. Pure: no I/O.
import type { MemberRecord } from '../types.js';
import { describeChange, type ProposedChange } from './change.js';
import type { PreviewAnswer } from './preview-answer.js';

export interface PreviewFlow {
  from: string;
  to: string;
  users: number;
  /** The user ids, when they were asked for (possibly truncated: see `usersTruncated`). */
  userIds?: string[];
}

export interface PreviewNode {
  id: string;
  /** Member state now; `new` for a node the change adds. */
  state: MemberRecord['state'] | 'new';
  weight: number | null;
  nextWeight: number | null;
  acceptRate: number;
  /** Connections now, or null when the node did not answer. */
  before: number | null;
  /** Users moving away from it (its own answer) and to it (everyone's answers). */
  out: number | null;
  in: number;
  /** Connections once the change has run, or null when the node did not answer. */
  after: number | null;
  /** Seconds the arrivals take at its accept rate: `in / acceptRate`. */
  waveSeconds: number;
}

export interface FleetPreview {
  change: ProposedChange;
  summary: string;
  /** The placement the answers were computed on (the one most answers share) and the one after the change. */
  epoch: number | null;
  fingerprint: string | null;
  nextFingerprint: string | null;
  /** Members asked and members that answered in time; `missing` are named, never guessed. */
  asked: number;
  answered: string[];
  missing: string[];
  /** Agents that answered with an error (a change that does not apply to their ring). */
  errors: { node: string; error: string }[];
  /** Agents serving another placement than the rest (mid-settle): their answers are counted, and named here. */
  disagreeing: { node: string; epoch: number; fingerprint: string }[];
  totals: {
    /** Sessions (sockets) on the agents that answered. */
    connections: number;
    /** Users on the agents that answered (what `moved` counts; sessions of a moved user move with it). */
    users: number;
    moved: number;
    /** moved / users, percent. */
    movedPct: number;
    /** Users already queued for a move from an earlier change. */
    queued: number;
  };
  flows: PreviewFlow[];
  /** True when an agent listed fewer user ids than it moves. */
  usersTruncated: boolean;
  nodes: PreviewNode[];
  /**
   * The expected wave: each receiver R takes its arrivals at acceptRate(R) (senders share its budget), each sender
   * sends at most ratePerSec; the change takes about the slowest of these plus the senders' jitter.
   */
  wave: {
    seconds: number;
    bottleneck: string | null;
    receivers: { id: string; arriving: number; acceptRate: number; seconds: number }[];
    senders: { id: string; leaving: number; ratePerSec: number; seconds: number }[];
  };
  deadlineMs: number;
  /** From the request to the last answer (or the deadline), ms. */
  latencyMs: number;
  /** Why some answers cannot exist (an agent without a fleet bus). */
  note?: string;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export function buildPreview(input: {
  change: ProposedChange;
  members: readonly MemberRecord[];
  answers: ReadonlyMap<string, PreviewAnswer | { node: string; error: string }>;
  deadlineMs: number;
  latencyMs: number;
  defaultAcceptRate: number;
  note?: string;
}): FleetPreview {
  const { change } = input;
  const members = [...new Map(input.members.map((m) => [m.id, m] as const)).values()];
  const all = [...input.answers.values()];
  const errors = all.filter((a) => 'error' in a && a.error !== undefined).map((a) => ({ node: a.node, error: (a as { error: string }).error }));
  const ok = all.filter((a): a is PreviewAnswer => !('error' in a && a.error !== undefined) && 'fingerprint' in a);
  // The placement most answers share.
  const byFp = new Map<string, PreviewAnswer[]>();
  for (const a of ok) byFp.set(a.fingerprint, [...(byFp.get(a.fingerprint) ?? []), a]);
  const main = [...byFp.values()].sort((x, y) => y.length - x.length || Math.max(...y.map((a) => a.epoch)) - Math.max(...x.map((a) => a.epoch)))[0] ?? [];
  const fingerprint = main[0]?.fingerprint ?? null;
  const disagreeing = ok.filter((a) => a.fingerprint !== fingerprint).map((a) => ({ node: a.node, epoch: a.epoch, fingerprint: a.fingerprint }));

  const flows = new Map<string, PreviewFlow>();
  let truncated = false;
  for (const a of ok) {
    for (const [to, users] of Object.entries(a.to)) {
      const flow: PreviewFlow = { from: a.node, to, users };
      if (a.users) flow.userIds = [...(a.users[to] ?? [])].sort();
      flows.set(`${a.node}\u0000${to}`, flow);
    }
    if (a.usersTruncated) truncated = true;
  }
  const flowList = [...flows.values()].sort((x, y) => y.users - x.users || (x.from < y.from ? -1 : x.from > y.from ? 1 : x.to < y.to ? -1 : 1));
  const inbound = new Map<string, number>();
  for (const f of flowList) inbound.set(f.to, (inbound.get(f.to) ?? 0) + f.users);

  const answersById = new Map(ok.map((a) => [a.node, a]));
  const memberIds = new Set(members.map((m) => m.id));
  const added = new Map<string, { weight: number; acceptRate?: number }>();
  for (const a of change.add ?? []) added.set(a.id, { weight: a.weight ?? 1, ...(a.acceptRate === undefined ? {} : { acceptRate: a.acceptRate }) });
  const leaving = new Set([...(change.remove ?? []), ...(change.drain ?? []), ...(change.handoff ?? []).map((h) => h.from)]);
  for (const h of change.handoff ?? []) added.set(h.to, { weight: h.weight ?? members.find((m) => m.id === h.from)?.weight ?? 1 });

  const nodes: PreviewNode[] = [];
  const nodeOf = (id: string, state: PreviewNode['state'], weight: number | null, acceptRate: number): PreviewNode => {
    const a = answersById.get(id);
    const arriving = inbound.get(id) ?? 0;
    // In users, like `out` and `in` (an agent older than sessions reports connections, one per user).
    const before = a ? (a.heldUsers ?? a.connections) : state === 'new' ? 0 : null;
    const out = a ? a.moved : state === 'new' ? 0 : null;
    let nextWeight: number | null = weight;
    if (leaving.has(id) || state === 'draining') nextWeight = null;
    if (change.reweight?.[id] !== undefined) nextWeight = change.reweight[id];
    return {
      id,
      state,
      weight,
      nextWeight,
      acceptRate,
      before,
      out,
      in: arriving,
      after: before === null || out === null ? null : before - out + arriving,
      waveSeconds: round(arriving / acceptRate),
    };
  };
  for (const m of members) nodes.push(nodeOf(m.id, m.state, m.weight, m.acceptRate ?? answersById.get(m.id)?.acceptRate ?? input.defaultAcceptRate));
  for (const [id, a] of added) if (!memberIds.has(id)) nodes.push(nodeOf(id, 'new', null, a.acceptRate ?? input.defaultAcceptRate));
  for (const n of nodes) if (added.has(n.id) && n.state === 'new') n.nextWeight = added.get(n.id)!.weight;
  // Agents that answered without being a member we knew of (joined meanwhile).
  for (const a of ok) if (!nodes.some((n) => n.id === a.node)) nodes.push(nodeOf(a.node, 'active', null, a.acceptRate));

  const receivers = nodes
    .filter((n) => n.in > 0)
    .map((n) => ({ id: n.id, arriving: n.in, acceptRate: n.acceptRate, seconds: n.waveSeconds }))
    .sort((x, y) => y.seconds - x.seconds || (x.id < y.id ? -1 : 1));
  const senders = ok
    .filter((a) => a.moved > 0)
    .map((a) => ({ id: a.node, leaving: a.moved, ratePerSec: a.ratePerSec, seconds: round(a.moved / a.ratePerSec) }))
    .sort((x, y) => y.seconds - x.seconds || (x.id < y.id ? -1 : 1));
  const slowest = [...receivers.map((r) => ({ id: r.id, s: r.seconds })), ...senders.map((s) => ({ id: s.id, s: s.seconds }))].sort((x, y) => y.s - x.s)[0];
  const jitter = Math.max(0, ...ok.filter((a) => a.moved > 0).map((a) => a.jitterMs)) / 1000;

  const connections = ok.reduce((n, a) => n + a.connections, 0);
  const users = ok.reduce((n, a) => n + (a.heldUsers ?? a.connections), 0);
  const moved = ok.reduce((n, a) => n + a.moved, 0);
  const nextFps = new Set(main.map((a) => a.nextFingerprint).filter((x): x is string => x !== undefined));
  const answered = [...input.answers.keys()].sort();
  const expected = new Set(members.map((m) => m.id));
  return {
    change,
    summary: describeChange(change),
    epoch: main.length ? Math.max(...main.map((a) => a.epoch)) : null,
    fingerprint,
    nextFingerprint: nextFps.size === 1 ? [...nextFps][0] : null,
    asked: expected.size,
    answered,
    missing: [...expected].filter((id) => !input.answers.has(id)).sort(),
    errors,
    disagreeing,
    totals: { connections, users, moved, movedPct: users ? round((moved / users) * 100, 2) : 0, queued: ok.reduce((n, a) => n + a.queued, 0) },
    flows: flowList,
    usersTruncated: truncated,
    nodes,
    wave: { seconds: slowest ? round(slowest.s + jitter) : 0, bottleneck: slowest?.id ?? null, receivers, senders },
    deadlineMs: input.deadlineMs,
    latencyMs: Math.round(input.latencyMs),
    ...(input.note ? { note: input.note } : {}),
  };
}
