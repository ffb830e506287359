/**
 * `/metrics` past one object: the expositions of several hubs (a relay's, or every shard's and
 * relay's for the Worker) added up family by family, so that dashboards and tests read the same names
 * as on one hub, plus per-object series to see how the load spreads.
 */

/** A parsed exposition: each family's HELP and TYPE lines, and its unlabeled value. */
interface Family {
  readonly meta: string[];
  value: number;
  sampled: boolean;
}

/**
 * The sum of Prometheus text expositions (format 0.0.4) of the same families: every unlabeled sample
 * is added up; labeled samples (quantiles of one process's event loop) do not add up and are dropped.
 */
export function sumExpositions(texts: readonly string[]): string {
  const families = new Map<string, Family>();
  const familyOf = (name: string) => {
    let family = families.get(name);
    if (!family) {
      family = { meta: [], value: 0, sampled: false };
      families.set(name, family);
    }
    return family;
  };
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const meta = /^# (HELP|TYPE) (\S+) /.exec(line);
      if (meta) {
        const family = familyOf(meta[2]!);
        if (!family.meta.includes(line)) family.meta.push(line);
        continue;
      }
      const sample = /^([A-Za-z_:][A-Za-z0-9_:]*) (\S+)$/.exec(line);
      if (!sample) continue;
      const value = Number(sample[2]);
      if (!Number.isFinite(value)) continue;
      const family = familyOf(sample[1]!);
      family.value += value;
      family.sampled = true;
    }
  }
  let out = '';
  for (const [name, family] of families) {
    if (!family.sampled) continue;
    for (const line of family.meta) out += `${line}\n`;
    out += `${name} ${family.value}\n`;
  }
  return out;
}

/** The unlabeled value of `name` in an exposition, or 0. */
export function sampleOf(text: string, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  const value = match ? Number(match[1]) : 0;
  return Number.isFinite(value) ? value : 0;
}

/** One gauge family with a series per object: `name{object="hub"} 3`. */
export function perObject(
  name: string,
  help: string,
  values: ReadonlyArray<readonly [string, number]>,
): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} gauge\n`;
  for (const [object, value] of values)
    out += `${name}{object="${object.replace(/["\\\n]/g, '_')}"} ${value}\n`;
  return out;
}

/** The headers of a Prometheus text answer. */
export const METRICS_HEADERS = {
  'content-type': 'text/plain; version=0.0.4; charset=utf-8',
  'x-content-type-options': 'nosniff',
} as const;
