// The browser page's script, bundled by esbuild inside the fresh app (build.mjs): the client connects to the
// agent that served the page, sends one message and collects what comes back on window.wsring.
import { createClient } from '@wsring/client';

const result = { node: undefined, received: [], errors: [] };
window.wsring = result;
const client = createClient({ user: 'browser-user', bootstrap: [location.origin] });
client.on('open', ({ node }) => {
  result.node = node;
  client.send('hello from the browser');
});
client.on('message', (data) => result.received.push(data));
client.on('error', (err) => result.errors.push(err.code));
