// The live preview as text: who answered, users moved, flows, load per node before and after, the wave.
import type { FleetPreview } from '@wsring/node-agent';
import { int, table } from './format.js';

const MAX_ROWS = 30;
const secs = (s: number) => `${s.toFixed(s < 10 ? 2 : 1)} s`;

export function renderFleetText(p: FleetPreview, where: string, o: { timing?: boolean } = {}): string {
  const out: string[] = [];
  out.push(`Live preview on ${where}: ${p.summary}`);
  out.push(
    `Placement: epoch ${p.epoch ?? '?'} (fingerprint ${p.fingerprint ?? '?'}) -> fingerprint ${p.nextFingerprint ?? '?'}; ` +
      `${p.answered.length} of ${p.asked} agents answered${o.timing === false ? '' : ` in ${p.latencyMs} ms`}`,
  );
  if (p.missing.length) out.push(`WARNING: no answer within ${p.deadlineMs} ms from ${p.missing.join(', ')}: their users are not counted`);
  for (const e of p.errors.slice(0, 5)) out.push(`ERROR from ${e.node}: ${e.error}`);
  if (p.disagreeing.length) out.push(`NOTE: on another placement (counted anyway): ${p.disagreeing.map((d) => `${d.node}@${d.epoch}`).join(', ')}`);
  out.push('');
  out.push(`Users moved: ${int(p.totals.moved)} of ${int(p.totals.users ?? p.totals.connections)} connected (${p.totals.movedPct.toFixed(2)}%)${p.totals.queued ? `; ${int(p.totals.queued)} already queued from an earlier change` : ''}`);
  if (p.flows.length) {
    out.push('');
    const rows = p.flows.slice(0, MAX_ROWS).map((f) => [`${f.from} -> ${f.to}`, int(f.users), f.userIds ? f.userIds.slice(0, 5).join(', ') + (f.userIds.length > 5 ? ', ...' : '') : '']);
    const withIds = p.flows.some((f) => f.userIds);
    out.push(table(withIds ? ['flow', 'users', 'user ids'] : ['flow', 'users'], withIds ? rows : rows.map((r) => r.slice(0, 2)), withIds ? ['l', 'r', 'l'] : undefined));
    if (p.flows.length > MAX_ROWS) out.push(`... and ${p.flows.length - MAX_ROWS} smaller flows (--json lists them all)`);
  }
  const changed = p.nodes
    .filter((n) => n.in > 0 || (n.out ?? 0) > 0 || n.state === 'new' || n.nextWeight !== n.weight || n.before === null)
    .sort((a, b) => Math.abs((b.after ?? 0) - (b.before ?? 0)) - Math.abs((a.after ?? 0) - (a.before ?? 0)) || (a.id < b.id ? -1 : 1));
  if (changed.length) {
    out.push('');
    const v = (x: number | null) => (x === null ? '?' : int(x));
    out.push(
      table(
        ['node', 'state', 'before', 'after', 'out', 'in', 'accept/s', 'wave'],
        changed.slice(0, MAX_ROWS).map((n) => [n.id, n.state, v(n.before), v(n.after), v(n.out), int(n.in), int(n.acceptRate), secs(n.waveSeconds)]),
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    if (changed.length > MAX_ROWS) out.push(`... and ${changed.length - MAX_ROWS} more nodes (--json lists them all)`);
  }
  out.push('');
  const r = p.wave.receivers[0];
  out.push(
    p.wave.bottleneck
      ? `Expected wave: about ${secs(p.wave.seconds)}, set by ${p.wave.bottleneck}${r && r.id === p.wave.bottleneck ? ` (${int(r.arriving)} arriving at ${int(r.acceptRate)}/s)` : ' (its sender ceiling)'}, jitter included`
      : 'Expected wave: nobody connected moves',
  );
  return `${out.join('\n')}\n`;
}
