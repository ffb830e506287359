import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/index.ts';
import { hubUrls } from './hub-url.ts';

const HUB = '/.well-known/mercure';
const forged = new Request('http://forged.example/.well-known/mercure', {
  headers: { host: 'forged.example' },
});

describe('hubUrls', () => {
  it('takes the public URL when it is set, whatever the request names', () => {
    const urls = hubUrls({ publicUrl: 'https://hub.example/', resource: 'urn:anything' }, HUB);
    expect(urls.of(forged).href).toBe('https://hub.example/.well-known/mercure');
    expect(urls.reachedBy(forged).href).toBe('https://hub.example/.well-known/mercure');
  });

  it('else takes the origin of an http(s) resource identifier for topics, and the request only as an address', () => {
    const urls = hubUrls({ resource: 'https://hub.example:8443/.well-known/mercure' }, HUB);
    expect(urls.of(forged).href).toBe('https://hub.example:8443/.well-known/mercure');
    expect(urls.reachedBy(forged).href).toBe('http://forged.example/.well-known/mercure');
  });

  it('falls back to the request only when nothing names the hub', () => {
    const urls = hubUrls({}, HUB);
    expect(urls.of(forged).href).toBe('http://forged.example/.well-known/mercure');
  });

  it('refuses a resource identifier that is not an http(s) URL without a public URL, and a bad public URL', () => {
    for (const resource of ['urn:example:hub', 'hub.example', 'ftp://hub.example/x', '']) {
      expect(() => hubUrls({ resource }, HUB), resource).toThrow(ConfigError);
      expect(() => hubUrls({ resource }, HUB), resource).toThrow(/SSEHUB_PUBLIC_URL/);
    }
    expect(() => hubUrls({ publicUrl: 'hub.example' }, HUB)).toThrow(ConfigError);
  });
});
