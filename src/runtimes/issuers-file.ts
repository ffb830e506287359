/**
 * Reads `--issuers-file` on runtimes with a file system. Keys may live in files of their own:
 * `pem_file`, `jwks_file` and `secret_file` (paths relative to the issuers file) are read and inlined
 * as `pem`, `jwks` and `secret` before the JSON is checked.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/index.ts';
import { type IssuerConfig, parseIssuers } from '../hub/index.ts';

const fileFields = { pem_file: 'pem', jwks_file: 'jwks', secret_file: 'secret' } as const;

/**
 * Loads and checks an issuers file.
 * @throws {ConfigError} when a file cannot be read or the JSON is not a valid issuers list.
 */
export function loadIssuersFile(path: string): IssuerConfig[] {
  const text = read(path, path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${path}: not valid JSON`);
  }
  if (Array.isArray(value)) {
    for (const issuer of value) {
      const keys = (issuer as { keys?: unknown })?.keys;
      if (!Array.isArray(keys)) continue;
      for (const key of keys) {
        if (typeof key !== 'object' || key === null) continue;
        const entry = key as Record<string, unknown>;
        for (const [field, target] of Object.entries(fileFields)) {
          const file = entry[field];
          if (file === undefined) continue;
          if (typeof file !== 'string') throw new ConfigError(`${path}: ${field} must be a path`);
          const content = read(resolve(dirname(path), file), `${path}: ${field}`);
          entry[target] =
            target === 'jwks' ? parseJson(content, file) : target === 'secret' ? content.trim() : content;
          delete entry[field];
        }
      }
    }
  }
  return parseIssuers(JSON.stringify(value), path);
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(`${file}: not valid JSON`);
  }
}
