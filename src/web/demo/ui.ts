/**
 * Small helpers for the demo's page: elements, toasts, error messages. Text from other peers only
 * ever goes in as text (`textContent`, `append`), never parsed as HTML: the only markup set from
 * script is the constant icons below.
 */
import { ClientError } from '../../client/index.ts';

/** The element with this id, of the type the markup (index.html) gives it. */
export function byId<T extends HTMLElement>(id: string, type: abstract new () => T): T {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`the demo page has no ${type.name} #${id}`);
  return node;
}

/** A new element with these attributes and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** Shows `text` for a few seconds at the bottom of the page. */
export function toast(text: string): void {
  const node = h('div', { class: 'toast' }, text);
  byId('toasts', HTMLDivElement).append(node);
  setTimeout(() => node.remove(), 3500);
}

/** The message of an error, or the thing thrown as text. */
export const messageOf = (error: unknown): string =>
  error instanceof Error && error.message ? error.message : String(error);

/** What to tell the user when joining (or staying in) a room failed. */
export function describe(error: unknown): string {
  const status = error instanceof ClientError ? error.status : undefined;
  if (status === 404) return 'Rooms are turned off on this hub (SSEHUB_ROOMS).';
  if (status === 409) return 'This room is full.';
  if (status === 401 || status === 403) return 'This hub only admits invited peers.';
  return `Could not join: ${messageOf(error)}`;
}

/** Icons set from script (the others are in index.html). */
export const icons = {
  micOff:
    '<svg viewBox="0 0 24 24"><path d="M2 2l20 20M9 9v3a3 3 0 0 0 5 2.2M15 9.3V5a3 3 0 0 0-5.9-.7M19 10a7 7 0 0 1-1.1 3.8M5 10a7 7 0 0 0 11.3 5.5M12 17v5"/></svg>',
  trash: '<svg viewBox="0 0 24 24"><path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"/></svg>',
};
