import { describe, expect, it } from 'vitest';
import { generateId } from '../brokers/index.ts';
import { generatedId } from '../brokers/redis/codec.ts';
import { utf8Length } from '../hub/index.ts';
import { ConfigError, defaults, helpText, parseConfig, settings } from './index.ts';

const config = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = parseConfig(argv, env);
  if (parsed.help) throw new Error('unexpected help');
  return parsed.config;
};

describe('parseConfig', () => {
  it('applies defaults, then environment variables, then flags', () => {
    expect(config([])).toEqual(defaults);
    expect(config([], { PORT: '4000', SSEHUB_HISTORY_SIZE: '5' })).toMatchObject({
      port: 4000,
      historySize: 5,
    });
    expect(config(['--port', '5000'], { PORT: '4000' }).port).toBe(5000);
    expect(config(['--port=5001']).port).toBe(5001);
  });

  it('reads booleans from flags, negated flags and env values', () => {
    expect(config(['--allow-anonymous-publish']).allowAnonymousPublish).toBe(true);
    expect(config(['--no-allow-anonymous-subscribe']).allowAnonymousSubscribe).toBe(false);
    expect(config([], { SSEHUB_ALLOW_ANONYMOUS_PUBLISH: 'yes' }).allowAnonymousPublish).toBe(true);
    expect(config(['--dev=false'], { SSEHUB_DEV: '1' }).dev).toBe(false);
  });

  it.each([
    [['--port', 'eighty']],
    [['--port', '70000']],
    [['--port', '-1']],
    [['--heartbeat', '0']],
    [['--history-size', '1e3']],
    [['--nope']],
    [['--port']],
    [['--no-port']],
    [['--dev=maybe']],
  ])('refuses %j with a ConfigError', (argv) => {
    expect(() => parseConfig(argv, {})).toThrow(ConfigError);
  });

  it('names the variable in errors from the environment', () => {
    expect(() => parseConfig([], { SSEHUB_HEARTBEAT: 'soon' })).toThrow(/SSEHUB_HEARTBEAT/);
  });

  it('returns positionals and help', () => {
    const parsed = parseConfig(['token', '--port', '1'], {});
    expect(parsed.help === false && parsed.positionals).toEqual(['token']);
    expect(parseConfig(['--help'], {}).help).toBe(true);
  });

  it('documents every setting in --help', () => {
    const help = helpText();
    for (const s of Object.values(settings)) {
      expect(help).toContain(`--${s.flag}`);
      expect(help).toContain(s.env);
    }
  });

  it('lets no --max-id-bytes bound hub-generated ids, which are cursors too', () => {
    const u64 = '18446744073709551615';
    for (const id of [generateId(), generatedId(`${u64}-${u64}`)]) {
      expect(utf8Length(id)).toBeLessThanOrEqual(settings.maxIdBytes.min);
    }
    expect(() => parseConfig(['--max-id-bytes', String(settings.maxIdBytes.min - 1)], {})).toThrow(
      ConfigError,
    );
  });
});
