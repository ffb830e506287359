/** The settings table rendered for people: `--help` and the README's table. */
import { type Config, defaults, settings } from './settings.ts';

/** The `--help` text, generated from the settings table. */
export function helpText(command = 'ssehub'): string {
  const rows = Object.entries(settings).map(([key, s]) => {
    const value = s.kind === 'boolean' ? '' : ' <value>';
    const def = defaults[key as keyof Config];
    const shown = def === undefined ? '' : ` (default: ${Array.isArray(def) ? def.join(',') : def})`;
    return `  --${s.flag}${value}\n      ${s.doc}${shown}. Env: ${s.env}`;
  });
  return `Usage: ${command} [options]\n\nOptions (flags override environment variables):\n${rows.join('\n')}\n  --help\n      Show this help.\n`;
}

/** The README's settings table (Markdown), generated from the settings table above. */
export function settingsMarkdown(): string {
  const rows = Object.entries(settings).map(([key, s]) => {
    const def = defaults[key as keyof Config];
    const shown = def === undefined ? '—' : `\`${Array.isArray(def) ? def.join(',') : def}\``;
    return `| \`${s.env}\` | \`--${s.flag}\` | ${shown} | ${s.doc} |`;
  });
  return ['| Environment | Flag | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
