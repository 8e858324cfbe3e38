// A TCP proxy in front of a real nats-server that reads the NATS protocol in both directions and drops whole
// messages a test chooses: publishes on their way to the server, answers on their way back. Everything else
// (INFO, CONNECT, PING/PONG, SUB) passes untouched, so the client stays connected and sees only the losses.
import { createServer, connect, type Server, type Socket } from 'node:net';

export type Direction = 'to-server' | 'to-client';
/** Return true to drop this message. `payload` includes the header block of HPUB/HMSG. */
export type DropRule = (direction: Direction, subject: string, payload: Buffer) => boolean;

export interface DroppingProxy {
  readonly url: string;
  /** Messages dropped so far, per direction. */
  readonly dropped: Record<Direction, number>;
  close(): Promise<void>;
}

const WITH_PAYLOAD = new Set(['PUB', 'HPUB', 'MSG', 'HMSG']);
const CRLF = Buffer.from('\r\n');

/** Splits a NATS protocol byte stream into whole operations and forwards the ones `keep` allows. */
function filter(to: Socket, keep: (subject: string, payload: Buffer) => boolean): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      const eol = buf.indexOf(CRLF);
      if (eol < 0) break;
      const args = buf.subarray(0, eol).toString('latin1').trim().split(/[ \t]+/);
      const op = args[0].toUpperCase();
      if (!WITH_PAYLOAD.has(op)) {
        out.push(buf.subarray(0, eol + 2));
        buf = buf.subarray(eol + 2);
        continue;
      }
      const size = Number(args.at(-1));
      const end = eol + 2 + size + 2;
      if (buf.length < end) break;
      if (keep(args[1], buf.subarray(eol + 2, eol + 2 + size))) out.push(buf.subarray(0, end));
      buf = buf.subarray(end);
    }
    // Copy what is left: `chunk` may be reused by the socket.
    buf = Buffer.from(buf);
    if (out.length) to.write(Buffer.concat(out));
  };
}

export async function startDroppingProxy(target: { host: string; port: number }, drop: DropRule): Promise<DroppingProxy> {
  const sockets = new Set<Socket>();
  const dropped: Record<Direction, number> = { 'to-server': 0, 'to-client': 0 };
  const keep = (direction: Direction) => (subject: string, payload: Buffer) => {
    if (!drop(direction, subject, payload)) return true;
    dropped[direction]++;
    return false;
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    upstream.on('data', filter(client, keep('to-client')));
    client.on('data', filter(upstream, keep('to-server')));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    dropped,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A JetStream publish acknowledgement or refusal (`{"stream":..}` / `{"error":..}`), not an API answer (`{"type":..}`). */
export function isPublishAnswer(payload: Buffer): boolean {
  const body = payload.subarray(0, 8).toString() === 'NATS/1.0' ? payload.subarray(payload.indexOf('\r\n\r\n') + 4) : payload;
  const head = body.subarray(0, 10).toString();
  return head === '{"stream":' || head.startsWith('{"error":');
}
