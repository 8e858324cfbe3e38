// A child process holding many @wsring/client instances for the sessions suite: several per user (tabs), each
// checking that its application receives the user's numbers {n} as 0, 1, 2, ... exactly once each. Over IPC:
//   { type: 'start', tabs: [{ key, user }], bootstrap, options } -> { type: 'started' }
//   { type: 'report' }  -> { type: 'report', tabs: { [key]: { user, next, errors, gaps, opens, state, node, session, sessions } } }
//   { type: 'close' }   -> closes every client and exits
import { createClient } from '@wsring/client';

const tabs = new Map();

process.on('message', (msg) => {
  if (msg.type === 'start') {
    for (const { key, user } of msg.tabs) {
      const client = createClient({ user, bootstrap: msg.bootstrap, ...msg.options });
      const state = { user, client, next: 0, errors: [], gaps: [], opens: 0, sessions: [] };
      client.on('message', (data) => {
        const n = data?.n;
        if (n === state.next) state.next++;
        else if (state.errors.length < 10) state.errors.push(`expected ${state.next}, got ${JSON.stringify(data)}`);
      });
      client.on('gap', (gap) => state.gaps.push(gap));
      client.on('open', (e) => {
        state.opens++;
        if (!state.sessions.includes(e.session)) state.sessions.push(e.session);
      });
      client.on('close', (e) => state.errors.push(`closed ${e.code} ${e.reason}`));
      tabs.set(key, state);
    }
    process.send({ type: 'started' });
  } else if (msg.type === 'report') {
    const out = {};
    for (const [key, s] of tabs) {
      out[key] = { user: s.user, next: s.next, errors: s.errors, gaps: s.gaps, opens: s.opens, state: s.client.state, node: s.client.node ?? null, session: s.client.sessionId ?? null, sessions: s.sessions };
    }
    process.send({ type: 'report', tabs: out });
  } else if (msg.type === 'close') {
    for (const s of tabs.values()) s.client.close();
    setTimeout(() => process.exit(0), 100);
  }
});
process.on('disconnect', () => process.exit(0));
