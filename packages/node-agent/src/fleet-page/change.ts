// A proposed change to the fleet, as the live preview takes it: who joins, leaves, drains, changes weight or
// hands its place to another node. Applied to a ring, it gives the ring the fleet would settle on.
import { createRing, RingError, type NodeSpec, type Ring, type RingOptions } from '@wsring/ring';
import { NODE_ID_PATTERN, RECORD_LIMITS } from '../options.js';

export type PreviewErrorCode = 'INVALID_CHANGE' | 'NO_FLEET' | 'NO_ANSWER';

/** A preview that cannot be made: a malformed or inapplicable change, no fleet to ask. */
export class PreviewError extends Error {
  constructor(readonly code: PreviewErrorCode, message: string) {
    super(message);
    this.name = 'PreviewError';
  }
}

export interface AddedNode {
  id: string;
  /** Default 1. */
  weight?: number;
  /** Its receiver budget once it serves (moved users per second). Default: the agents' default, 1000. */
  acceptRate?: number;
}

/**
 * A change to preview. Every part is optional; they apply in this order: handoff, remove, drain, add, reweight.
 * For placement, a removal and a drain are the same (the node leaves the ring); a drain's users move paced, as
 * every move does.
 */
export interface ProposedChange {
  add?: AddedNode[];
  remove?: string[];
  drain?: string[];
  /** New weights of nodes in the ring. */
  reweight?: Record<string, number>;
  /** `to` takes `from`'s place: `to` joins with `from`'s weight (or `weight`), `from` leaves the ring. */
  handoff?: { from: string; to: string; weight?: number }[];
}

const MAX_IDS = 10_000;

function fail(message: string): never {
  throw new PreviewError('INVALID_CHANGE', message);
}

function nodeId(x: unknown, where: string): string {
  if (typeof x !== 'string' || !NODE_ID_PATTERN.test(x)) fail(`${where} must be a node id (1-64 of [A-Za-z0-9_-]), got ${JSON.stringify(x)}`);
  return x;
}

function weight(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0 || x > RECORD_LIMITS.maxWeight) fail(`${where} must be a number in (0, ${RECORD_LIMITS.maxWeight}], got ${JSON.stringify(x)}`);
  return x;
}

function list<T>(x: unknown, where: string, item: (v: unknown, where: string) => T): T[] {
  if (!Array.isArray(x)) fail(`${where} must be a list`);
  if (x.length > MAX_IDS) fail(`${where} lists more than ${MAX_IDS} entries`);
  return x.map((v, i) => item(v, `${where}[${i}]`));
}

function object(x: unknown, where: string): Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) fail(`${where} must be an object`);
  return x as Record<string, unknown>;
}

/** A change from untrusted JSON (an HTTP body, a NATS request): checked field by field, unknown fields refused. */
export function parseChange(raw: unknown): ProposedChange {
  const o = object(raw, 'change');
  const out: ProposedChange = {};
  for (const key of Object.keys(o)) if (!['add', 'remove', 'drain', 'reweight', 'handoff'].includes(key)) fail(`change has an unknown field ${JSON.stringify(key)} (add, remove, drain, reweight, handoff)`);
  if (o.add !== undefined) {
    out.add = list(o.add, 'add', (v, where) => {
      const n = typeof v === 'string' ? { id: v } : object(v, where);
      for (const key of Object.keys(n)) if (!['id', 'weight', 'acceptRate'].includes(key)) fail(`${where} has an unknown field ${JSON.stringify(key)}`);
      const added: AddedNode = { id: nodeId(n.id, `${where}.id`) };
      if (n.weight !== undefined) added.weight = weight(n.weight, `${where}.weight`);
      if (n.acceptRate !== undefined) {
        const a = n.acceptRate;
        if (typeof a !== 'number' || !Number.isFinite(a) || a <= 0 || a > RECORD_LIMITS.maxAcceptRate) fail(`${where}.acceptRate must be in (0, ${RECORD_LIMITS.maxAcceptRate}]`);
        added.acceptRate = a;
      }
      return added;
    });
  }
  if (o.remove !== undefined) out.remove = list(o.remove, 'remove', nodeId);
  if (o.drain !== undefined) out.drain = list(o.drain, 'drain', nodeId);
  if (o.reweight !== undefined) {
    const r = object(o.reweight, 'reweight');
    out.reweight = {};
    for (const [id, w] of Object.entries(r)) out.reweight[nodeId(id, 'reweight key')] = weight(w, `reweight.${id}`);
  }
  if (o.handoff !== undefined) {
    out.handoff = list(o.handoff, 'handoff', (v, where) => {
      const h = object(v, where);
      for (const key of Object.keys(h)) if (!['from', 'to', 'weight'].includes(key)) fail(`${where} has an unknown field ${JSON.stringify(key)}`);
      return { from: nodeId(h.from, `${where}.from`), to: nodeId(h.to, `${where}.to`), ...(h.weight === undefined ? {} : { weight: weight(h.weight, `${where}.weight`) }) };
    });
  }
  if (isEmpty(out)) fail('the change is empty: give add, remove, drain, reweight or handoff');
  return out;
}

export function isEmpty(c: ProposedChange): boolean {
  return !c.add?.length && !c.remove?.length && !c.drain?.length && !c.handoff?.length && Object.keys(c.reweight ?? {}).length === 0;
}

/** One line for logs and reports: `add n4 (w 2); drain n1`. */
export function describeChange(c: ProposedChange): string {
  const parts: string[] = [];
  for (const h of c.handoff ?? []) parts.push(`handoff ${h.from} -> ${h.to}${h.weight === undefined ? '' : ` (w ${h.weight})`}`);
  if (c.remove?.length) parts.push(`remove ${c.remove.join(', ')}`);
  if (c.drain?.length) parts.push(`drain ${c.drain.join(', ')}`);
  if (c.add?.length) parts.push(`add ${c.add.map((a) => (a.weight === undefined ? a.id : `${a.id} (w ${a.weight})`)).join(', ')}`);
  const rw = Object.entries(c.reweight ?? {});
  if (rw.length) parts.push(`reweight ${rw.map(([id, w]) => `${id}=${w}`).join(', ')}`);
  return parts.join('; ');
}

/** Node ids a change brings into the ring, with the weight each takes. */
export function joiners(ring: Ring, c: ProposedChange): NodeSpec[] {
  const weightOf = (id: string) => ring.nodes.find((n) => n.id === id)?.weight;
  return [
    ...(c.handoff ?? []).map((h) => ({ id: h.to, weight: h.weight ?? weightOf(h.from) ?? 1 })),
    ...(c.add ?? []).map((a) => ({ id: a.id, weight: a.weight ?? 1 })),
  ];
}

/** Node ids a change takes out of the ring. */
export function leavers(c: ProposedChange): string[] {
  return [...(c.handoff ?? []).map((h) => h.from), ...(c.remove ?? []), ...(c.drain ?? [])];
}

/**
 * The nodes of the ring after the change (ids, weights, the URLs the ring already had). Throws PreviewError when
 * the change does not apply: a node to remove that is not in the ring, one to add that is, one named twice, a
 * change that leaves no node.
 */
export function nextSpecs(ring: Ring, c: ProposedChange): NodeSpec[] {
  const current = new Map(ring.nodes.map((n) => [n.id, n] as const));
  const out = leavers(c);
  const leaving = new Set<string>();
  for (const id of out) {
    if (!current.has(id)) fail(`${id} is not in the ring (${ring.nodes.length} nodes)`);
    if (leaving.has(id)) fail(`${id} is named twice`);
    leaving.add(id);
  }
  const next = new Map<string, NodeSpec>();
  for (const n of ring.nodes) if (!leaving.has(n.id)) next.set(n.id, { id: n.id, weight: n.weight, ...(n.meta ? { meta: { ...n.meta } } : {}) });
  for (const n of joiners(ring, c)) {
    if (next.has(n.id)) fail(`${n.id} is already in the ring`);
    if (leaving.has(n.id)) fail(`${n.id} cannot leave and join in one change`);
    next.set(n.id, n);
  }
  for (const [id, w] of Object.entries(c.reweight ?? {})) {
    const n = next.get(id);
    if (!n) fail(`${id} is not in the ring to reweight`);
    n.weight = w;
  }
  if (next.size === 0) fail('the change leaves no node in the ring');
  return [...next.values()];
}

/**
 * The ring after the change, built as every agent builds a ring from a member set (`createRing` over ids and
 * weights with the fleet's ring options), so it is the ring the fleet settles on once the change has happened:
 * same placement, same fingerprint.
 */
export async function applyChange(ring: Ring, c: ProposedChange, options: RingOptions | undefined): Promise<Ring> {
  const specs = nextSpecs(ring, c);
  try {
    return await createRing(specs, options);
  } catch (err) {
    if (err instanceof RingError) fail(err.message);
    throw err;
  }
}
