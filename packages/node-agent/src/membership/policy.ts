import type { AgentMetrics } from '../metrics.js';
import { originOf } from '../options.js';
import type { Logger, MemberRecord } from '../types.js';

export interface MemberPolicyOptions {
  /** Origins member URLs must have; undefined: any ws/wss URL. */
  allowedOrigins: readonly string[] | undefined;
  /** Member ids kept at most. */
  maxMembers: number;
  logger: Logger;
  metrics: AgentMetrics;
}

/** Distinct keys remembered for "warned already"; past it the memory starts over (a flood of keys cannot grow it). */
const WARNED_KEYS = 10_000;

/**
 * What this node accepts of records that are well-formed (records.ts checked their shape): URLs within the
 * configured origins, and no more than `maxMembers` ids (a flood of records cannot stall the agent). Every ignored
 * record is counted; each key is warned about once per reason, not once per heartbeat.
 */
export class MemberPolicy {
  private readonly warned = new Map<string, string>();

  constructor(private readonly o: MemberPolicyOptions) {}

  /** Why `record` must be ignored, or undefined to use it. */
  check(record: MemberRecord, table: { get(id: string): MemberRecord | undefined; readonly count: number }): string | undefined {
    if (this.o.allowedOrigins && !this.o.allowedOrigins.includes(originOf(record.url))) return 'origin';
    if (table.get(record.id) === undefined && table.count >= this.o.maxMembers) return 'too-many-members';
    return undefined;
  }

  ignored(key: string, reason: string): void {
    this.o.metrics.recordsIgnored.inc({ reason });
    if (this.warned.get(key) === reason) return;
    if (this.warned.size >= WARNED_KEYS) this.warned.clear();
    this.warned.set(key, reason);
    this.o.logger.warn({ event: 'record-ignored', key: key.slice(0, 200), reason }, 'ignoring a membership record');
  }
}
