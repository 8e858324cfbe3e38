// NATS credentials taken out of server URLs into connect options, and URL redaction for logs (issue 11).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { credentialsFromUrls, natsConnectOptions, redactUrls } from '../src/nats-auth.js';

describe('NATS credentials in URLs', () => {
  it('user:pass@ and token@ become options; the URLs keep only scheme, host and port', () => {
    expect(credentialsFromUrls(['nats://alice:s%40cret@10.0.0.1:4222', 'nats://10.0.0.2:4222'])).toEqual({ servers: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222'], user: 'alice', pass: 's@cret' });
    expect(credentialsFromUrls(['tls://t0ken@h:4222'])).toEqual({ servers: ['tls://h:4222'], token: 't0ken' });
    expect(credentialsFromUrls(['127.0.0.1:4222'])).toEqual({ servers: ['127.0.0.1:4222'] });
    // Flags win over the URL.
    expect(natsConnectOptions(['nats://alice:one@h'], { pass: 'two' }).connect).toEqual({ user: 'alice', pass: 'two' });
  });

  it('redaction leaves no password of any URL in the text (property)', () => {
    const secret = fc.string({ minLength: 4, maxLength: 20, unit: fc.constantFrom(...'abcXYZ019-_~!$'.split('')) });
    fc.assert(
      fc.property(fc.string({ maxLength: 10, unit: fc.constantFrom(...'abcdef'.split('')) }), secret, (user, pass) => {
        const text = `cannot connect to NATS at nats://${user}:${pass}@127.0.0.1:4222,nats://${pass}@10.0.0.2:4222: refused`;
        const redacted = redactUrls(text);
        expect(redacted).not.toContain(pass);
        expect(redacted).toContain('nats://[redacted]@127.0.0.1:4222');
      }),
    );
  });
});
