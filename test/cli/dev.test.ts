/** `npm start` (`--dev`): zero configuration, printed tokens that work; bad security settings exit 2. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { freePort, hubEnv, startProcess } from '../helpers/hub.ts';
import { openStream } from '../helpers/sse.ts';
import { runCli } from './run.ts';

const HUB = '/.well-known/mercure';

describe('development mode', () => {
  it('generates a key and prints a publisher and a subscriber token valid one hour, which work', async () => {
    const port = await freePort();
    const proc = await startProcess('node', ['--import', 'tsx', 'src/runtimes/cli.ts', '--dev'], {
      env: hubEnv({ PORT: String(port), HOST: '127.0.0.1', SSEHUB_JWT_KEY: '' }),
      ready: /Publish: .*\n/,
    });
    try {
      const out = proc.output();
      expect(out).toMatch(/Production needs real keys/);
      const publisher = /Publisher token \(valid 1 hour\):\n {2}(\S+)/.exec(out)![1]!;
      const subscriber = /Subscriber token \(valid 1 hour[^)]*\):\n {2}(\S+)/.exec(out)![1]!;
      for (const token of [publisher, subscriber]) {
        const claims = decodeJwt(token);
        expect(claims.exp! - claims.iat!).toBe(3600);
        expect(claims.iss).toBe(`http://localhost:${port}`);
        expect(claims.aud).toBe(`http://localhost:${port}${HUB}`);
      }
      // Reached on 127.0.0.1 rather than localhost: the printed tokens still work.
      const base = `http://127.0.0.1:${port}`;
      const sub = await openStream(`${base}${HUB}?match=%2Fchat`, { authorization: `Bearer ${subscriber}` });
      const res = await fetch(`${base}${HUB}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${publisher}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'topic=%2Fchat&data=hello&private=on',
      });
      expect(res.status).toBe(200);
      expect((await sub.waitForEvents(1))[0]!.data).toBe('hello');
      sub.close();
    } finally {
      await proc.stop();
    }
  });

  it('refuses to start without a key outside development mode', async () => {
    const result = await runCli([], { PORT: '0' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no key configured.*--dev/);
  });
});

describe('security settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssehub-config-'));
  const write = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const key = { SSEHUB_JWT_KEY: 'config-test-secret-0123456789abcdef', PORT: '0', HOST: '127.0.0.1' };

  it.each([
    ['a wildcard CORS origin', { SSEHUB_CORS_ORIGINS: '*' }, /CORS origin "\*" is not allowed/],
    ['a CORS origin with a path', { SSEHUB_CORS_ORIGINS: 'https://a.example/app' }, /scheme:\/\/host/],
    ['issuers that are not JSON', { SSEHUB_ISSUERS: '[{' }, /SSEHUB_ISSUERS: not valid JSON/],
    ['an issuer without keys', { SSEHUB_ISSUERS: '[{"issuer":"https://a"}]' }, /keys: at least one key/],
    [
      'a PEM key without alg',
      { SSEHUB_ISSUERS: '[{"issuer":"https://a","keys":[{"pem":"x"}]}]' },
      /needs "alg"/,
    ],
    [
      'alg none',
      { SSEHUB_ISSUERS: '[{"issuer":"https://a","keys":[{"secret":"s","alg":"none"}]}]' },
      /unsupported algorithm "none"/,
    ],
    [
      'a PEM that does not import',
      { SSEHUB_ISSUERS: '[{"issuer":"https://a","keys":[{"pem":"junk","alg":"RS256"}]}]' },
      /issuer https:\/\/a key 0/,
    ],
    [
      'a private JWK',
      {
        SSEHUB_ISSUERS:
          '[{"issuer":"https://a","keys":[{"jwk":{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"},"alg":"ES256"}]}]',
      },
      /must be a public key/,
    ],
    ['a missing issuers file', { SSEHUB_ISSUERS_FILE: '/nonexistent/issuers.json' }, /cannot read/],
    [
      'a resource identifier that names no origin, without a public URL',
      { SSEHUB_RESOURCE: 'urn:example:hub' },
      /SSEHUB_RESOURCE "urn:example:hub" is not an http\(s\) URL.*set SSEHUB_PUBLIC_URL/,
    ],
    [
      'a public URL that is not an http(s) URL',
      { SSEHUB_PUBLIC_URL: 'hub.example.com' },
      /SSEHUB_PUBLIC_URL must be/,
    ],
  ])('exits 2 on %s', async (_, env, message) => {
    const result = await runCli([], { ...key, ...env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('resolves key files relative to the issuers file', async () => {
    const path = write(
      'issuers.json',
      JSON.stringify([{ issuer: 'https://a', keys: [{ secret_file: 'nope.txt' }] }]),
    );
    const result = await runCli([], { ...key, SSEHUB_ISSUERS_FILE: path });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(join(dir, 'nope.txt'));
  });
});
