/**
 * Retention rules (`SSEHUB_RETENTION`, `--retention`): topics that get history of their own, one lane
 * per topic, so that a busy topic never evicts a quiet one's history.
 *
 * Syntax: rules separated by commas, each `PATTERN=BOUNDS`. PATTERN is a topic as publishers send it
 * (byte-exact, no resolution), ending with `*` to take every topic that starts with what comes before
 * (`/rooms/*`), else exactly that topic (`/stats`). BOUNDS are one to three bounds separated by `:` —
 * a count (`50`), a size (`64KiB`, `1MB`, `512B`: KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024) and
 * an age (`30s`, `15m`, `2h`, `7d`) — and the bounds a rule does not set are the global ones
 * (`SSEHUB_HISTORY_SIZE`, `SSEHUB_HISTORY_BYTES`, `SSEHUB_HISTORY_AGE`). The first rule that takes a
 * topic wins. Example: `/rooms/*=50,/prices/*=1,/logs/*=1000:1MiB:1h`.
 */

/** One parsed rule. Bounds left undefined are the global ones. */
export interface RetentionRule {
  /** The pattern as written, e.g. `/rooms/*`: the rule's name. */
  readonly pattern: string;
  /** What a topic must start with (`exact`: be). */
  readonly prefix: string;
  readonly exact: boolean;
  readonly maxCount?: number;
  readonly maxBytes?: number;
  /** Seconds. */
  readonly maxAge?: number;
}

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
};
const AGE_UNITS: Record<string, number> = { S: 1, M: 60, H: 3600, D: 86_400 };

/**
 * Parses retention rules; topics under `reserved` (the hub's own) may not have one.
 * @throws {Error} with a message that says which rule is wrong and why (the caller names the setting).
 *
 * @example
 * parseRetentionRules('/rooms/*=50,/prices/*=1', '/.well-known/mercure');
 */
export function parseRetentionRules(text: string, reserved: string): RetentionRule[] {
  const rules: RetentionRule[] = [];
  for (const raw of text.split(',')) {
    const rule = raw.trim();
    if (rule === '') continue;
    const eq = rule.lastIndexOf('=');
    if (eq === -1) throw new Error(`"${rule}" is not PATTERN=BOUNDS (e.g. /rooms/*=50)`);
    const pattern = rule.slice(0, eq).trim();
    const star = pattern.indexOf('*');
    if (pattern === '' || pattern === '*') {
      throw new Error(
        `"${rule}" needs a topic or a prefix ending with * (every topic: use the global bounds)`,
      );
    }
    if (star !== -1 && star !== pattern.length - 1) {
      throw new Error(`"${rule}": * may only end a pattern (a prefix), as in /rooms/*`);
    }
    const exact = star === -1;
    const prefix = exact ? pattern : pattern.slice(0, -1);
    if (prefix.startsWith(reserved)) {
      throw new Error(`"${rule}": topics under ${reserved} are the hub's own (subscription events)`);
    }
    if (rules.some((r) => r.pattern === pattern)) throw new Error(`"${pattern}" has two rules`);
    rules.push({ pattern, prefix, exact, ...boundsOf(rule, rule.slice(eq + 1)) });
  }
  return rules;
}

function boundsOf(rule: string, text: string): Pick<RetentionRule, 'maxCount' | 'maxBytes' | 'maxAge'> {
  const bounds: { maxCount?: number; maxBytes?: number; maxAge?: number } = {};
  const set = (key: keyof typeof bounds, value: number, what: string) => {
    if (bounds[key] !== undefined) throw new Error(`"${rule}" sets the ${what} twice`);
    if (!Number.isSafeInteger(value)) throw new Error(`"${rule}": the ${what} is too large`);
    bounds[key] = value;
  };
  for (const part of text.split(':')) {
    const bound = part.trim();
    const match = /^(\d+)([a-z]*)$/i.exec(bound);
    if (!match) {
      throw new Error(`"${rule}": "${bound}" is not a count (50), a size (64KiB) or an age (1h)`);
    }
    const n = Number(match[1]);
    const unit = match[2]!.toUpperCase();
    if (unit === '') set('maxCount', n, 'count');
    else if (SIZE_UNITS[unit] !== undefined) set('maxBytes', n * SIZE_UNITS[unit]!, 'size');
    else if (AGE_UNITS[unit] !== undefined) {
      if (n === 0) throw new Error(`"${rule}": an age of 0 keeps nothing; leave the age out for none`);
      set('maxAge', n * AGE_UNITS[unit]!, 'age');
    } else
      throw new Error(`"${rule}": unknown unit "${match[2]}" (B, KB, KiB, MB, MiB, GB, GiB, s, m, h, d)`);
  }
  return bounds;
}
