// A child process holding many @wsring/client instances for the delivery suite. Each client checks what its
// application receives: numbers {n} must arrive as 0, 1, 2, ... exactly once each. The parent drives it over IPC:
//   { type: 'start', users, bootstrap, options }  -> { type: 'started' }
//   { type: 'report' }                            -> { type: 'report', users: { [user]: UserReport } }
//   { type: 'close' }                             -> closes every client and exits
import { createClient } from '@wsring/client';

/** @type {Map<string, { client: import('@wsring/client').WsringClient, next: number, errors: string[], gaps: unknown[], opens: number }>} */
const clients = new Map();

process.on('message', (msg) => {
  if (msg.type === 'start') {
    for (const user of msg.users) {
      const client = createClient({ user, bootstrap: msg.bootstrap, ...msg.options });
      const state = { client, next: 0, errors: [], gaps: [], opens: 0 };
      client.on('message', (data) => {
        const n = data?.n;
        if (n === state.next) state.next++;
        else if (state.errors.length < 10) state.errors.push(`expected ${state.next}, got ${JSON.stringify(data)}`);
      });
      client.on('gap', (gap) => state.gaps.push(gap));
      client.on('open', () => state.opens++);
      clients.set(user, state);
    }
    process.send({ type: 'started' });
  } else if (msg.type === 'report') {
    const users = {};
    for (const [user, s] of clients) {
      users[user] = { next: s.next, errors: s.errors, gaps: s.gaps, opens: s.opens, state: s.client.state, node: s.client.node ?? null };
    }
    process.send({ type: 'report', users });
  } else if (msg.type === 'close') {
    for (const s of clients.values()) s.client.close();
    setTimeout(() => process.exit(0), 100);
  }
});
process.on('disconnect', () => process.exit(0));
