// The live preview from outside the fleet (`wsring-sim plan --fleet`, scripts) and from an agent's own page: ask
// every member over NATS, wait for the answers up to a deadline, name who did not answer, sum the rest.
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connectNats } from '../membership/nats.js';
import { MEMBER_PREFIX, parseMemberRecord } from '../membership/records.js';
import { DEFAULTS } from '../options.js';
import type { MemberRecord } from '../types.js';
import { parseChange, PreviewError, type ProposedChange } from './change.js';
import { fanOut } from './fan-out.js';
import type { PreviewAnswer, PreviewRequest } from './preview-answer.js';
import { buildPreview, type FleetPreview } from './preview-report.js';
import { FLEET_DEFAULTS, FLEET_PROTOCOL, previewSubject } from './subjects.js';

export interface PreviewOptions {
  /** Membership bucket of the fleet. Default `wsring`. */
  bucket?: string;
  /** How long to wait for every member's answer, ms. Default 2000. */
  deadlineMs?: number;
  /** List the moved user ids per (from, to). Default false: counts only. */
  users?: boolean;
  /** At most this many user ids per agent. Default 10,000. */
  maxUsers?: number;
  /** Further options for the NATS connection (user, pass, token, tls...). */
  connect?: Record<string, unknown>;
  /** Member records older than this (against the newest) are of nodes long gone: not asked. Default 10,000 (the agents' default liveness timeout). */
  livenessMs?: number;
}

type Answer = PreviewAnswer | { node: string; error: string };

/** The live members of a fleet, from its membership bucket (read-only: a missing bucket is an error, never created). */
export async function readMembers(nc: NatsConnection, bucket: string, livenessMs: number = DEFAULTS.livenessTimeoutMs): Promise<MemberRecord[]> {
  let kv;
  try {
    kv = await new Kvm(jetstream(nc, { timeout: 5_000 })).open(bucket, { bindOnly: true });
    await kv.status();
  } catch (err) {
    throw new PreviewError('NO_FLEET', `no membership bucket ${JSON.stringify(bucket)} on this NATS: ${(err as Error).message}`);
  }
  // A key rewritten (a heartbeat) while the listing runs can come twice.
  const unique = new Set<string>();
  for await (const k of await kv.keys(`${MEMBER_PREFIX}>`)) unique.add(k);
  const keys = [...unique];
  const entries: { record: MemberRecord; created: number }[] = [];
  for (let i = 0; i < keys.length; i += 200) {
    const batch = await Promise.all(keys.slice(i, i + 200).map((k) => kv.get(k)));
    for (const e of batch) {
      if (!e || e.operation !== 'PUT') continue;
      let value: unknown;
      try {
        value = e.json();
      } catch {
        continue;
      }
      const record = parseMemberRecord(value);
      if (record) entries.push({ record, created: e.created.getTime() });
    }
  }
  const newest = Math.max(0, ...entries.map((e) => e.created));
  return entries.filter((e) => newest - e.created <= livenessMs).map((e) => e.record).sort((a, b) => (a.id < b.id ? -1 : 1));
}

/**
 * Ask every member for its answer to `change` over an open connection and build the fleet-wide preview.
 * `local` answers for this process's own agent without a round trip (the page's agent).
 */
export async function previewOverNats(input: {
  nc: NatsConnection | undefined;
  bucket: string;
  members: readonly MemberRecord[];
  change: ProposedChange;
  users?: boolean;
  maxUsers?: number;
  deadlineMs?: number;
  local?: { node: string; answer: () => Promise<PreviewAnswer> };
}): Promise<FleetPreview> {
  const deadlineMs = input.deadlineMs ?? FLEET_DEFAULTS.previewDeadlineMs;
  const request: PreviewRequest = { v: FLEET_PROTOCOL, change: input.change, users: input.users === true, deadlineMs, ...(input.maxUsers === undefined ? {} : { maxUsers: input.maxUsers }) };
  const started = performance.now();
  const answers = new Map<string, Answer>();
  const expected = new Set(input.members.map((m) => m.id));
  if (input.local) expected.delete(input.local.node);
  const [remote, local] = await Promise.all([
    input.nc && expected.size > 0
      ? fanOut<Answer>(input.nc, previewSubject(input.bucket), request, { expected, deadlineMs, nodeOf: (a) => (a && typeof a.node === 'string' && a.node !== input.local?.node ? a.node : undefined) })
      : undefined,
    input.local?.answer(),
  ]);
  if (input.local && local) answers.set(input.local.node, local);
  for (const [id, a] of remote?.answers ?? []) answers.set(id, a);
  const all = [...answers.values()];
  if (all.length > 0 && all.every((a) => 'error' in a && a.error !== undefined)) {
    // Nobody could apply it: the change is wrong for this fleet, not the fleet for the change.
    throw new PreviewError('INVALID_CHANGE', `${(all[0] as { error: string }).error} (said by ${all.length === 1 ? all[0].node : `all ${all.length} agents that answered`})`);
  }
  return buildPreview({
    change: input.change,
    members: input.members,
    answers,
    deadlineMs,
    latencyMs: performance.now() - started,
    defaultAcceptRate: DEFAULTS.acceptRate,
    ...(input.nc ? {} : { note: 'in-memory membership: no fleet bus, only this agent answered' }),
  });
}

/**
 * Preview a change on the live fleet behind `nats`: every agent answers from its key index how many of its
 * connected users would move, and to whom. Read-only: nothing in the fleet changes. Agents that do not answer
 * within `deadlineMs` are named in `missing`.
 */
export async function previewChange(nats: string | string[], change: ProposedChange, options: PreviewOptions = {}): Promise<FleetPreview> {
  const checked = parseChange(change);
  const bucket = options.bucket ?? DEFAULTS.bucket;
  const nc = await connectNats({ servers: nats, connect: { maxReconnectAttempts: 0, ...options.connect } });
  try {
    const members = await readMembers(nc, bucket, options.livenessMs);
    if (members.length === 0) throw new PreviewError('NO_FLEET', `no live member in bucket ${JSON.stringify(bucket)}`);
    return await previewOverNats({ nc, bucket, members, change: checked, users: options.users, maxUsers: options.maxUsers, deadlineMs: options.deadlineMs });
  } finally {
    await nc.close().catch(() => {});
  }
}
