import { readFileSync } from 'node:fs';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import clock from '../examples/clock.ts';
import { settingsMarkdown } from '../src/config/index.ts';

describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');

  it('shows the settings table generated from src/config.ts (run `npm run docs` after adding one)', () => {
    const table = readme.slice(
      readme.indexOf('<!-- settings:start -->'),
      readme.indexOf('<!-- settings:end -->'),
    );
    expect(table.replace('<!-- settings:start -->', '').trim()).toBe(settingsMarkdown());
  });

  it('embeds examples/clock.ts verbatim', () => {
    expect(readme).toContain(
      readFileSync('examples/clock.ts', 'utf8').split('\n').slice(1).join('\n').trim(),
    );
  });
});

describe('examples/clock.ts', () => {
  it('streams tick events and stops its timer when the client leaves', async () => {
    const controller = new AbortController();
    const response = await clock.request('/clock', { signal: controller.signal });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => events.push(e) });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    while (events.length < 2) {
      const { value } = await reader.read();
      parser.feed(decoder.decode(value, { stream: true }));
    }
    expect(events.map((e) => e.event)).toEqual(['tick', 'tick']);
    expect(Number.isNaN(Date.parse(events[0]!.data))).toBe(false);
    controller.abort();
    await reader.cancel();
  });
});
