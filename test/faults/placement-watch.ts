// What placement the agents served during a fault: every agent's /topology polled every 100 ms, plus the
// `rebalance` lines they logged (a ring that came and went between two polls still shows there).
import type { SpawnedAgent } from '@wsring/node-agent/testing';
import type { Topology } from '@wsring/client';

export interface Served {
  agent: string;
  epoch: number;
  fingerprint: string;
  /** Ring node ids, sorted. */
  nodes: string[];
  at: number;
}

export interface PlacementFigures {
  /** Distinct (epoch, fingerprint) labels served or applied other than the one before the fault. */
  ringChanges: number;
  /** `rebalance` events logged by all agents together. */
  rebalances: number;
  /** Every epoch seen, ascending. */
  epochs: number[];
  /** Distinct ring member sets seen, e.g. `a1,a2,a3,a4`. */
  memberSets: string[];
  /** Times an agent served a lower epoch than it had served before. */
  epochRegressions: number;
  /** For each agent that served more than one placement: `a2 4{a1,a2,a3,a4} > 5{} > 4{a1,a2,a3,a4}`. */
  sequences: string[];
}

const label = (s: { epoch: number; fingerprint: string }) => `${s.epoch}:${s.fingerprint}`;

export class PlacementWatch {
  private readonly served: Served[] = [];
  private readonly logMarks = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private baseline: { epoch: number; fingerprint: string } | undefined;

  constructor(private readonly agents: readonly SpawnedAgent[]) {}

  /** Start watching; `baseline` is the placement everyone served before the fault. */
  start(baseline: { epoch: number; fingerprint: string }): void {
    this.baseline = baseline;
    for (const a of this.agents) this.logMarks.set(a.id, a.logs.length);
    const tick = () => {
      this.polling = this.poll().finally(() => {
        if (this.polling) this.timer = setTimeout(tick, 100);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    const last = this.polling;
    this.polling = undefined;
    clearTimeout(this.timer);
    await last;
  }

  /** Rebalance lines an agent logged since `start`. */
  rebalancesOf(agent: SpawnedAgent): { epoch: number; fingerprint: string }[] {
    return agent.logs
      .slice(this.logMarks.get(agent.id) ?? 0)
      .filter((l) => l.event === 'rebalance')
      .map((l) => ({ epoch: Number(l.epoch), fingerprint: String(l.fingerprint) }));
  }

  /** Everything polled, in order. */
  get history(): readonly Served[] {
    return this.served;
  }

  figures(): PlacementFigures {
    if (!this.baseline) throw new Error('not started');
    const rebalanced = this.agents.flatMap((a) => this.rebalancesOf(a));
    const labels = new Set([...this.served, ...rebalanced].map(label));
    labels.delete(label(this.baseline));
    let epochRegressions = 0;
    for (const a of this.agents) {
      const epochs = this.served.filter((s) => s.agent === a.id).map((s) => s.epoch);
      for (let i = 1; i < epochs.length; i++) if (epochs[i] < epochs[i - 1]) epochRegressions++;
    }
    return {
      ringChanges: labels.size,
      rebalances: rebalanced.length,
      epochs: [...new Set([this.baseline.epoch, ...this.served.map((s) => s.epoch), ...rebalanced.map((r) => r.epoch)])].sort((x, y) => x - y),
      memberSets: [...new Set(this.served.map((s) => s.nodes.join(',')))],
      epochRegressions,
      sequences: this.agents.flatMap((a) => {
        const served = this.served.filter((x) => x.agent === a.id);
        return served.length > 1 ? [`${a.id} ${served.map((x) => `${x.epoch}{${x.nodes.join(',')}}`).join(' > ')}`] : [];
      }),
    };
  }

  private lastServedBy(agent: string): Served | undefined {
    for (let i = this.served.length - 1; i >= 0; i--) if (this.served[i].agent === agent) return this.served[i];
    return undefined;
  }

  private async poll(): Promise<void> {
    await Promise.all(
      this.agents.map(async (a) => {
        try {
          const response = await fetch(`${a.httpUrl}/topology`, { signal: AbortSignal.timeout(1_000) });
          const t = (await response.json()) as Topology;
          const nodes = t.ring.nodes.map((n) => n.id).sort();
          const previous = this.lastServedBy(a.id);
          // Keep transitions only: the history stays short and still shows every change.
          if (!previous || previous.epoch !== t.epoch || previous.fingerprint !== t.fingerprint) {
            this.served.push({ agent: a.id, epoch: t.epoch, fingerprint: t.fingerprint, nodes, at: performance.now() });
          }
        } catch {
          // Killed or too slow to answer this time: nothing served to record.
        }
      }),
    );
  }
}
