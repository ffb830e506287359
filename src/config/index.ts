/**
 * The one typed configuration object, parsed once from CLI flags and environment variables (flags
 * win). Pure: runtimes pass in their argv and env; nothing reads `process.env` elsewhere. The
 * settings table (`settings.ts`) is also the source of `--help` and of the README's settings table.
 */
export { ConfigError, type ParsedArgs, parseConfig } from './parse.ts';
export { helpText, settingsMarkdown } from './render.ts';
export { parseRetentionRules, type RetentionRule } from './retention.ts';
export { type Config, defaults, type Kind, type Setting, settings } from './settings.ts';
