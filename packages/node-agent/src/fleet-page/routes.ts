// The fleet page's HTTP endpoints, under the agent's prefix:
//   GET  /fleet          the page (self-contained: inline CSS, script and SVG; no request leaves the agent)
//   GET  /fleet/events   its feed: server-sent events `ring` (on every new placement) and `fleet` (every second)
//   GET  /fleet/state    one frame as JSON
//   POST /fleet/preview  the live preview of a change: body { change, users? }, answer FleetPreview
//   POST /fleet/login    the login form's target: `token=<admin token or admin JWT>`, answered with a session cookie
//   POST /fleet/logout   ends the session
// All of them only for an admin (see access.ts); without an admin credential configured they do not exist.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminAccess } from './access.js';
import { PreviewError, parseChange } from './change.js';
import { fleetPageHtml, loginPageHtml } from './page-html.js';
import type { ProposedChange } from './change.js';
import type { FleetPreview } from './preview-report.js';
import type { FleetSnapshot } from './snapshot.js';

/** One open feed: `send` writes an event, `close` ends it. */
export interface Viewer {
  send(event: string, data: string): boolean;
  close(): void;
  /** The fingerprint of the ring picture this viewer holds. */
  ring?: string;
}

/** What the endpoints ask of the agent (the FleetService). */
export interface FleetBackend {
  snapshot(): Promise<FleetSnapshot>;
  addViewer(v: Viewer): () => void;
  preview(change: ProposedChange, o: { users?: boolean; maxUsers?: number }): Promise<FleetPreview>;
}

export interface FleetRouteOptions {
  prefix: string;
  access: AdminAccess;
}

/** Preview bodies are small; anything bigger is refused before it is read. */
const MAX_BODY = 64 * 1024;
/** A page whose feed falls this far behind is cut off (it reconnects and starts afresh). */
const MAX_BACKLOG = 8 * 1024 * 1024;
/** User ids per agent a page preview lists at most. */
const PAGE_MAX_USERS = 1_000;

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', ...SECURITY_HEADERS });
  res.end(JSON.stringify(body));
}

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function html(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CSP, ...SECURITY_HEADERS, ...headers });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new PreviewError('INVALID_CHANGE', `body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function createFleetHandler(service: FleetBackend, o: FleetRouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const base = `${o.prefix}/fleet`;
  const { access } = o;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== base && !path.startsWith(`${base}/`)) return false;
    const route = path.slice(base.length) || '/';
    if (!['/', '/events', '/state', '/preview', '/login', '/logout'].includes(route)) return false;
    const method = req.method ?? 'GET';
    if (route === '/login' || route === '/logout') {
      if (method !== 'POST') json(res, 405, { error: 'POST the login form' });
      else if (route === '/logout') html(res, 303, '', { location: base, 'set-cookie': access.clearCookie(req, base) });
      else void login(access, base, req, res);
      return true;
    }
    access.authorized(req).then(
      (ok) => {
        if (!ok) {
          // The login form is the page a stranger gets (200, like any sign-in page; it shows nothing of the fleet).
          if (route === '/' && (method === 'GET' || method === 'HEAD')) html(res, 200, loginPageHtml(o.prefix, ''));
          else json(res, 401, { error: 'admins only: send Authorization: Bearer <admin token> or log in at ' + base });
          return;
        }
        serve(service, o.prefix, route, method, req, res);
      },
      (err: unknown) => json(res, 500, { error: String(err) }),
    );
    return true;
  };
}

async function login(access: AdminAccess, base: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let token = '';
  try {
    token = new URLSearchParams(await readBody(req)).get('token')?.trim() ?? '';
  } catch {
    // too large: not a credential
  }
  const prefix = base.slice(0, -'/fleet'.length);
  if (access.throttled(false)) {
    html(res, 429, loginPageHtml(prefix, 'Too many failed logins: wait a minute.'));
    return;
  }
  if (await access.isAdmin(token)) {
    html(res, 303, '', { location: base, 'set-cookie': access.sessionCookie(req, base) });
    return;
  }
  access.throttled(true);
  html(res, 401, loginPageHtml(prefix, 'That is not an admin credential.'));
}

function serve(service: FleetBackend, prefix: string, route: string, method: string, req: IncomingMessage, res: ServerResponse): void {
  if (route === '/preview') {
    if (method !== 'POST') json(res, 405, { error: 'POST a change' });
    else void preview(service, req, res);
    return;
  }
  if (method !== 'GET' && method !== 'HEAD') {
    json(res, 405, { error: 'method not allowed' });
    return;
  }
  if (route === '/') html(res, 200, fleetPageHtml(prefix));
  else if (route === '/state') {
    service.snapshot().then(
      (s) => json(res, 200, s),
      (err: unknown) => json(res, 500, { error: String(err) }),
    );
  } else events(service, res);
}

function events(service: FleetBackend, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'keep-alive', 'x-accel-buffering': 'no', ...SECURITY_HEADERS });
  res.write('retry: 2000\n\n');
  const remove = service.addViewer({
    send(event, data) {
      if (res.writableEnded || res.destroyed) return false;
      if (res.writableLength > MAX_BACKLOG) {
        res.destroy();
        return false;
      }
      res.write(`event: ${event}\ndata: ${data}\n\n`);
      return true;
    },
    close() {
      if (!res.writableEnded) res.end();
    },
  });
  // The response closes when the page goes away (or the connection drops): that viewer is done.
  res.on('close', remove);
}

async function preview(service: FleetBackend, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // A cross-site form cannot send JSON without a preflight this endpoint never grants.
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    json(res, 415, { error: 'send the change as application/json' });
    return;
  }
  try {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      if (err instanceof PreviewError) throw err;
      throw new PreviewError('INVALID_CHANGE', 'the body is not JSON');
    }
    const b = (body ?? {}) as { change?: unknown; users?: unknown };
    const change = parseChange(b.change);
    json(res, 200, await service.preview(change, { users: b.users === true, maxUsers: PAGE_MAX_USERS }));
  } catch (err) {
    if (err instanceof PreviewError) json(res, 400, { error: err.message, code: err.code });
    else json(res, 500, { error: String(err) });
  }
}
