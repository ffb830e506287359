/**
 * Regenerates the settings table in README.md from `src/config.ts` (`npm run docs`).
 * A test fails when the README's table and the code disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { settingsMarkdown } from '../src/config/index.ts';

export const START = '<!-- settings:start -->';
export const END = '<!-- settings:end -->';

const readme = readFileSync('README.md', 'utf8');
const start = readme.indexOf(START);
const end = readme.indexOf(END);
if (start === -1 || end === -1) throw new Error('README.md has no settings markers');
writeFileSync(
  'README.md',
  `${readme.slice(0, start + START.length)}\n${settingsMarkdown()}\n${readme.slice(end)}`,
);
console.log('README.md settings table updated');
