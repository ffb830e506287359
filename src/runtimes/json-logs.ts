/**
 * `SSEHUB_LOG_FORMAT=json`: every line the process logs becomes one JSON object — `time`, `level`,
 * `msg`, the fields of a trailing plain object, and `error` (name, message, stack) for an `Error` — so
 * that log pipelines can read them without parsing prose. The hub logs through `console` everywhere;
 * this rewrites `console.log`/`info`/`warn`/`error` for the process, so nothing else has to change.
 */

type Level = 'info' | 'warn' | 'error';

/** The log formats `SSEHUB_LOG_FORMAT` accepts. */
export const LOG_FORMATS = ['text', 'json'] as const;

/** One log record as a JSON line. */
export function jsonLine(level: Level, args: readonly unknown[], now = new Date()): string {
  const record: Record<string, unknown> = { time: now.toISOString(), level };
  const words: string[] = [];
  for (const arg of args) {
    if (arg instanceof Error) record.error = { name: arg.name, message: arg.message, stack: arg.stack };
    else if (isPlainObject(arg)) Object.assign(record, arg);
    else words.push(typeof arg === 'string' ? arg : safeJson(arg));
  }
  // The `ssehub: ` prefix of text logs says who is talking; a JSON record says it with a field.
  record.msg = words.join(' ').replace(/^ssehub:\s*/, '');
  return safeJson(record);
}

/** Routes `console` through {@link jsonLine}; `write` receives each line (default: the original console). */
export function installJsonLogs(write?: (level: Level, line: string) => void): void {
  if (installed) return;
  installed = true;
  const original = {
    info: console.log.bind(console),
    warn: console.warn.bind(console),
    error: console.error.bind(console),
  };
  const out = write ?? ((level: Level, line: string) => original[level](line));
  console.log = (...args: unknown[]) => out('info', jsonLine('info', args));
  console.info = console.log;
  console.warn = (...args: unknown[]) => out('warn', jsonLine('warn', args));
  console.error = (...args: unknown[]) => out('error', jsonLine('error', args));
}

let installed = false;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
