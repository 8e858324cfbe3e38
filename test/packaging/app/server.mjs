// Runs in the fresh app, against the installed tarballs: one agent on in-memory membership, attached to an
// http server that also serves the browser page; a Node client connects, sends a message and gets the echo and
// a push. Prints one JSON line ({ port, node: ... }) and keeps serving the page until SIGTERM.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createClient } from '@wsring/client';
import { createAgent, MemoryMembership } from '@wsring/node-agent';

const PAGES = { '/': ['text/html', 'index.html'], '/app.js': ['text/javascript', 'dist/app.js'] };
const site = createServer((req, res) => {
  const page = PAGES[(req.url ?? '/').split('?')[0]];
  if (page) res.writeHead(200, { 'content-type': page[0] }).end(readFileSync(new URL(page[1], import.meta.url)));
});
await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
const { port } = site.address();

const agent = await createAgent({
  id: 'solo',
  membership: new MemoryMembership(),
  server: site,
  url: `ws://127.0.0.1:${port}/ws`,
  // Every client message is echoed on its connection, then pushed back through the agent's own send path.
  onMessage: (userId, data, conn) => {
    conn.send({ echo: data });
    agent.sendTo(userId, { pushed: userId });
  },
});

const client = createClient({ user: 'node-user', bootstrap: [`http://127.0.0.1:${port}`] });
const received = await new Promise((resolve, reject) => {
  const messages = [];
  const timer = setTimeout(() => reject(new Error(`node client: ${messages.length} of 2 messages after 30 s (state ${client.state})`)), 30_000);
  client.on('open', () => client.send('hello from node'));
  client.on('message', (data) => {
    messages.push(data);
    if (messages.length === 2) {
      clearTimeout(timer);
      resolve(messages);
    }
  });
  client.on('error', (err) => console.error(`node client error ${err.code}: ${err.message}`));
});
const node = { on: client.node, state: client.state, received };
client.close();
console.log(JSON.stringify({ port, node }));

process.on('SIGTERM', async () => {
  await agent.close();
  site.closeAllConnections();
  site.close(() => process.exit(0));
});
