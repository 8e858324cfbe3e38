// NATS credentials for the agent's connection: from flags, the environment, files, or the server URLs themselves,
// and the redaction that keeps every one of them out of logs and error messages.
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator } from '@nats-io/transport-node';

export interface NatsCredentials {
  user?: string;
  pass?: string;
  token?: string;
  /** A `.creds` file (user JWT and nkey seed), as `nsc` writes it. */
  credsFile?: string;
  /** A file holding an nkey seed (`SU...`). */
  nkeySeedFile?: string;
  /** PEM files: the CA that signed the server's certificate, and this client's certificate and key (mutual TLS). */
  tlsCaFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

// scheme://userinfo@ : what a URL carries credentials in.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi;

/** `nats://alice:secret@host:4222` -> `nats://[redacted]@host:4222`; text without credentials is left as it is. */
export function redactUrls(text: string): string {
  return text.replace(USERINFO, '$1[redacted]@');
}

/**
 * Server URLs without their credentials, and those credentials as options (`nats://alice:secret@h` gives user
 * alice, pass secret; `nats://s3cr3t@h` gives token s3cr3t). The first URL with credentials names them.
 */
export function credentialsFromUrls(servers: readonly string[]): { servers: string[]; user?: string; pass?: string; token?: string } {
  const out: { servers: string[]; user?: string; pass?: string; token?: string } = { servers: [] };
  let found = false;
  for (const server of servers) {
    const match = /^([a-z][a-z0-9+.-]*:\/\/)?([^/@\s]+)@(.*)$/i.exec(server);
    if (!match) {
      out.servers.push(server);
      continue;
    }
    out.servers.push(`${match[1] ?? ''}${match[3]}`);
    if (found) continue;
    found = true;
    const [name, secret] = match[2].split(/:(.*)/s, 2);
    if (secret === undefined) out.token = decodeURIComponent(name);
    else {
      out.user = decodeURIComponent(name);
      out.pass = decodeURIComponent(secret);
    }
  }
  return out;
}

/**
 * The servers and `connect` options for `@nats-io/transport-node`: credentials given explicitly win over those in
 * the URLs. Files are read now, so a missing one fails at start with its path named (never its content).
 */
export function natsConnectOptions(servers: readonly string[], c: NatsCredentials): { servers: string[]; connect: Record<string, unknown> } {
  const fromUrls = credentialsFromUrls(servers);
  const connect: Record<string, unknown> = {};
  const user = c.user ?? fromUrls.user;
  const pass = c.pass ?? fromUrls.pass;
  const token = c.token ?? fromUrls.token;
  if (user !== undefined) connect.user = user;
  if (pass !== undefined) connect.pass = pass;
  if (token !== undefined) connect.token = token;
  if (c.credsFile !== undefined) connect.authenticator = credsAuthenticator(readFileSync(c.credsFile));
  else if (c.nkeySeedFile !== undefined) connect.authenticator = nkeyAuthenticator(new TextEncoder().encode(readFileSync(c.nkeySeedFile, 'utf8').trim()));
  if (c.tlsCaFile !== undefined || c.tlsCertFile !== undefined || c.tlsKeyFile !== undefined) {
    connect.tls = {
      ...(c.tlsCaFile === undefined ? {} : { caFile: c.tlsCaFile }),
      ...(c.tlsCertFile === undefined ? {} : { certFile: c.tlsCertFile }),
      ...(c.tlsKeyFile === undefined ? {} : { keyFile: c.tlsKeyFile }),
    };
  }
  return { servers: fromUrls.servers, connect };
}
