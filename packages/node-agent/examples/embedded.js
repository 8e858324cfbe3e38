// Two agents in one process sharing an in-memory membership, a raw WebSocket client, a third agent
// joining, and the client following its targeted reconnect. Run: node examples/embedded.js (after npm run build)
import WebSocket from 'ws';
import { createAgent, MemoryMembership } from '@wsring/node-agent';

const membership = new MemoryMembership();
const common = {
  membership,
  host: '127.0.0.1',
  settleMs: 200,
  pacing: { ratePerSec: 100, jitterMs: 50 },
  onMessage: (_user, data, conn) => conn.send({ echo: data }),
};
const a = await createAgent({ id: 'a', ...common });
const b = await createAgent({ id: 'b', ...common });
// a settles on the two-node ring after its settle window.
await new Promise((resolve) => (a.topology.ring.nodes.length === 2 ? resolve() : a.once('topology', resolve)));

// Bootstrap: any node's /topology, then connect straight to the owner.
const topology = await (await fetch(`http://127.0.0.1:${a.port}/topology`)).json();
console.log('epoch', topology.epoch, 'nodes', topology.nodes.map((n) => n.id));

// Pick a user that the third node will take over, so the example shows a move.
const { loadRing } = await import('@wsring/ring');
const ring = await loadRing(topology.ring);
const withC = ring.withNodes([{ id: 'c' }]);
let user = 'alice';
for (let i = 0; withC.owner(user) !== 'c'; i++) user = `user-${i}`;
const ownerUrl = ring.nodes.find((n) => n.id === ring.owner(user)).meta.url;

function connect(url) {
  const ws = new WebSocket(`${url}?user=${encodeURIComponent(user)}`);
  ws.on('message', (raw) => {
    const frame = JSON.parse(raw.toString());
    console.log(user, '<-', frame);
    if (frame.type === 'welcome') ws.send(JSON.stringify({ type: 'message', data: 'hello' }));
    if (frame.type === 'reconnect') {
      ws.close(1000);
      connect(frame.url);
    }
    if (frame.type === 'welcome' && frame.node === 'c') setTimeout(shutdown, 100);
  });
}
connect(ownerUrl);

await new Promise((r) => setTimeout(r, 300));
const c = await createAgent({ id: 'c', ...common });
a.on('rebalance', (e) => console.log('a rebalanced: epoch', e.epoch, 'moved', e.moved));
b.on('rebalance', (e) => console.log('b rebalanced: epoch', e.epoch, 'moved', e.moved));

async function shutdown() {
  await Promise.all([a.close(), b.close(), c.close()]);
}
