import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/index.ts';
import { adminRequest } from './admin-cli.ts';

const env = { SSEHUB_ADMIN_KEY: 'k', PORT: '4000' };

describe('ssehub admin: arguments to requests', () => {
  it('turns each command into its request', () => {
    expect(adminRequest(['topics', '--limit', '10'], env)).toEqual({
      method: 'GET',
      url: 'http://127.0.0.1:4000/admin/topics?limit=10',
      key: 'k',
    });
    expect(adminRequest(['subscribers', '--match', '/a b', '--match-type=exact'], env).url).toBe(
      'http://127.0.0.1:4000/admin/subscribers?match=%2Fa+b&match_type=exact',
    );
    expect(
      adminRequest(['--url', 'https://hub.example/', 'disconnect', '--sub', 'u1', '--retry', '5000'], env),
    ).toEqual({
      method: 'POST',
      url: 'https://hub.example/admin/disconnect',
      key: 'k',
      body: { sub: 'u1', retry: 5000 },
    });
    expect(adminRequest(['revoke', '--jti', 'j', '--ttl', '60'], env).body).toEqual({ jti: 'j', ttl: 60 });
    expect(adminRequest(['lift', '--sub', 'u 1'], env)).toMatchObject({
      method: 'DELETE',
      url: 'http://127.0.0.1:4000/admin/revocations?sub=u+1',
    });
    expect(adminRequest(['revocations', '--key', 'other'], {}).key).toBe('other');
  });

  it.each([
    [[]],
    [['nope']],
    [['topics', 'extra']],
    [['topics', '--match', '/a']],
    [['disconnect']],
    [['disconnect', '--sub', 'a', '--subscriber', 'b']],
    [['revoke', '--sub', 'a', '--ttl', 'soon']],
    [['revoke', '--sub', 'a', '--ttl', '1', '--until', '2']],
  ])('refuses %j', (argv) => {
    expect(() => adminRequest(argv, env)).toThrow(ConfigError);
  });

  it('needs a key', () => {
    expect(() => adminRequest(['topics'], {})).toThrow(/SSEHUB_ADMIN_KEY/);
  });
});
