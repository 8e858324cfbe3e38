// A rebalance preview with @wsring/ring alone: 100,000 users on 4 nodes, then a 5th joins.
import { createKeyIndex, createRing } from '@wsring/ring';

const users = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);
const before = await createRing(['a', 'b', 'c', 'd'].map((id) => ({ id })));
const after = before.withNodes([{ id: 'e' }]);
const index = await createKeyIndex(users);
const moved = index.moved(before, after);
const load = (ring) => Object.fromEntries(ring.nodes.map((n) => [n.id, users.filter((u) => ring.owner(u) === n.id).length]));
console.log('before', load(before));
console.log('after ', load(after));
console.log(`moved ${moved.length} of ${users.length} users (${((100 * moved.length) / users.length).toFixed(1)}%; minimum ${(100 / 5).toFixed(1)}%), all to e: ${moved.every((m) => m.to === 'e')}`);
console.log(`hash ranges that changed owner: ${before.diff(after).length}`);
