// `wsring-sim plan --fleet <nats>`: the same question as `plan`, asked of the live fleet instead of synthetic users.
// Every agent answers from its own connections (the node agent's `previewChange`, a read-only NATS request with a
// deadline); nothing in the fleet changes.
import type { FleetPreview, ProposedChange } from '@wsring/node-agent';
import { SimError } from './errors.js';

export interface FleetOptions {
  /** NATS server URL(s) of the fleet. */
  servers: string[];
  bucket?: string;
  deadlineMs?: number;
  /** List the moved user ids (JSON, and the first few per flow in the text). */
  users?: boolean;
}

export interface FleetChangeOptions {
  join?: { id: string; weight?: number }[];
  remove?: string[];
  drain?: string[];
  reweight?: Record<string, number>;
  handoff?: { from: string; to: string }[];
}

/** The change as the agents take it. */
export function fleetChange(o: FleetChangeOptions): ProposedChange {
  const change: ProposedChange = {};
  if (o.handoff?.length) change.handoff = o.handoff;
  if (o.remove?.length) change.remove = o.remove;
  if (o.drain?.length) change.drain = o.drain;
  if (o.join?.length) change.add = o.join.map((n) => (n.weight === undefined ? { id: n.id } : { id: n.id, weight: n.weight }));
  if (o.reweight && Object.keys(o.reweight).length) change.reweight = o.reweight;
  if (Object.keys(change).length === 0) throw new SimError('INVALID_OPTION', 'nothing to preview on the fleet: give --join, --remove <ids>, --drain, --reweight or --handoff');
  return change;
}

/** Ask the fleet. Its errors become the simulator's one-line errors. */
export async function previewOnFleet(f: FleetOptions, change: ProposedChange): Promise<FleetPreview> {
  const { previewChange, PreviewError, AgentError } = await import('@wsring/node-agent');
  try {
    return await previewChange(f.servers, change, { bucket: f.bucket, deadlineMs: f.deadlineMs, users: f.users });
  } catch (err) {
    if (err instanceof PreviewError) throw new SimError(err.code === 'INVALID_CHANGE' ? 'INVALID_OPTION' : 'NO_FLEET', err.message);
    if (err instanceof AgentError) throw new SimError('NO_FLEET', err.message);
    throw err;
  }
}
