import { describe, expect, it } from 'vitest';
import { compileUriTemplate, isUriTemplate } from './uri-template.ts';

describe('URI template selectors (legacy topic selectors)', () => {
  it.each([
    ['https://example.com/books/{id}', 'https://example.com/books/1', true],
    ['https://example.com/books/{id}', 'https://example.com/books/', true],
    ['https://example.com/books/{id}', 'https://example.com/books/1/reviews', false],
    ['https://example.com/books/{id}', 'https://example.com/books/1?x', false],
    ['https://example.com/books/{id}', 'https://example.com/Books/1', false],
    ['/books/{id}/reviews/{rid}', '/books/1/reviews/2', true],
    ['/books/{id}/reviews/{rid}', '/books/1/2', false],
    ['/files{/path*}', '/files/a/b/c', true],
    ['/files{+path}', '/files/a/b?c#d', true],
    ['/a{x}{y}b', '/a123b', true],
    ['/a{x}b', '/a/b', false],
    ['/é/{id}', '/é/😀', true],
    ['/unbalanced{', '/unbalanced{', true],
  ])('%s matches %s: %s', (template, topic, expected) => {
    expect(compileUriTemplate(template).test(topic)).toBe(expected);
  });

  it('tells templates from plain topics', () => {
    expect(isUriTemplate('/books/{id}')).toBe(true);
    expect(isUriTemplate('/books/1')).toBe(false);
    expect(isUriTemplate('/books/{')).toBe(false);
  });

  it('matches in linear time, whatever the template', () => {
    const template = `/${'{a}-'.repeat(60)}end`;
    const topic = `/${'-'.repeat(4000)}x`;
    const started = performance.now();
    expect(compileUriTemplate(template).test(topic)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
