/**
 * Parsing the settings from CLI flags and environment variables (flags win). Pure: runtimes pass in
 * their argv and env; nothing reads `process.env` elsewhere.
 */
import { parseRetentionRules } from './retention.ts';
import { type Config, defaults, type Setting, type Settings, settings } from './settings.ts';

/** Where subscription events live: retention rules may not take those topics. */
const RESERVED = '/.well-known/mercure';

/** A bad flag or value; the CLI prints the message and exits with code 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Result of parsing: either a config to run with, or a request for help. */
export type ParsedArgs = { help: true } | { help: false; config: Config; positionals: string[] };

/**
 * Parses CLI flags (`--name value`, `--name=value`, `--flag`, `--no-flag`) over environment
 * variables over defaults.
 * @throws {ConfigError} on an unknown flag or a value of the wrong type.
 */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedArgs {
  const config: Record<string, unknown> = { ...defaults };
  const byFlag = new Map<string, keyof Settings>(
    Object.entries(settings).map(([key, s]) => [s.flag, key as keyof Settings]),
  );
  for (const [key, setting] of Object.entries(settings)) {
    const raw = env[setting.env];
    if (raw !== undefined && raw !== '') config[key] = coerce(setting, raw, setting.env);
  }
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let negated = false;
    if (!byFlag.has(name) && name.startsWith('no-') && byFlag.has(name.slice(3))) {
      name = name.slice(3);
      negated = true;
    }
    const key = byFlag.get(name);
    if (!key) throw new ConfigError(`unknown option --${name} (see --help)`);
    const setting: Setting = settings[key];
    if (setting.kind === 'boolean') {
      config[key] = negated ? false : eq === -1 ? true : coerce(setting, arg.slice(eq + 1), `--${name}`);
      continue;
    }
    if (negated) throw new ConfigError(`--no-${name} is not valid: --${name} takes a value`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    config[key] = coerce(setting, value, `--${name}`);
  }
  return { help: false, config: config as Config, positionals };
}

function coerce(setting: Setting, raw: string, source: string): unknown {
  switch (setting.kind) {
    case 'integer': {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${source} must be a whole number, got "${raw}"`);
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) throw new ConfigError(`${source} is too large: "${raw}"`);
      if (setting.min !== undefined && n < setting.min) {
        throw new ConfigError(`${source} must be at least ${setting.min}, got ${n}`);
      }
      if (setting.flag === 'port' && n > 65535) throw new ConfigError(`${source} must be at most 65535`);
      return n;
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new ConfigError(`${source} must be true or false, got "${raw}"`);
    }
    case 'retention':
      try {
        return parseRetentionRules(raw, RESERVED);
      } catch (error) {
        throw new ConfigError(`${source}: ${(error as Error).message}`);
      }
    case 'string':
      if (setting.choices && !setting.choices.includes(raw)) {
        throw new ConfigError(`${source} must be one of ${setting.choices.join(', ')}, got "${raw}"`);
      }
      return raw;
    case 'list':
      return raw
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}
