/** What `ringOf` needs of an agent: its topology and its `topology` event. */
interface TopologyEmitter {
  readonly topology: { ring: { nodes: readonly unknown[] } };
  on(event: 'topology', listener: () => void): unknown;
  off(event: 'topology', listener: () => void): unknown;
}

/** Resolves once `agent` serves a ring of `nodes` nodes (on its `topology` event, not by polling). */
export function ringOf(agent: TopologyEmitter, nodes: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (agent.topology.ring.nodes.length !== nodes) return;
      agent.off('topology', check);
      resolve();
    };
    agent.on('topology', check);
    check();
  });
}
