// Runs in the fresh app: the same packages with NATS, the way a fleet runs them. A nats-server started by the
// installed @wsring/node-agent/testing, one agent on NATS membership with JetStream delivery, a Node client, and a
// message for its user published twice: by the agent (agent.publish) and by a backend (createPublisher). Prints
// one JSON line with what the client received.
import { createClient } from '@wsring/client';
import { createAgent, createPublisher } from '@wsring/node-agent';
import { startNatsServer } from '@wsring/node-agent/testing';

const nats = await startNatsServer({ jetstream: true });
const agent = await createAgent({ id: 'relay', host: '127.0.0.1', port: 0, settleMs: 200, nats: { servers: [nats.url] } });
const client = createClient({ user: 'nats-user', bootstrap: [`http://127.0.0.1:${agent.port}`] });
const publisher = await createPublisher({ nats: { servers: nats.url } });
try {
  const received = await new Promise((resolve, reject) => {
    const messages = [];
    // A fresh client starts with the messages stored after its first `synced` (docs/delivery.md), which follows
    // `open`: publish once it has a position.
    const poll = setInterval(() => {
      if (client.position === undefined) return;
      clearInterval(poll);
      agent.publish('nats-user', { from: 'agent' }).then(() => publisher.publish('nats-user', { from: 'backend' })).catch(reject);
    }, 20);
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`nats client: ${messages.length} of 2 messages after 30 s (state ${client.state}, position ${client.position})`));
    }, 30_000);
    client.on('message', (data) => {
      messages.push(data);
      if (messages.length === 2) {
        clearTimeout(timer);
        resolve(messages);
      }
    });
  });
  console.log(JSON.stringify({ on: client.node, received }));
} finally {
  client.close();
  await publisher.close();
  await agent.close();
  await nats.stop();
}
