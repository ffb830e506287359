/**
 * The demo's checklist: the room's shared state (`room.state`, JSON Merge Patches ordered by the
 * hub), shown and edited by everyone in the room, and there for whoever joins later.
 */
import type { Json, JsonObject, Room } from '../../client/index.ts';
import { byId, h, icons, messageOf, toast } from './ui.ts';

/** A checklist entry, as the page reads it from `room.state.value.items[id]`. */
interface Item {
  text: string;
  done: boolean;
  /** Who added it (a display name, or '' when unknown). */
  by: string;
  /** When it was added (ms since the epoch): the list's order. */
  at: number;
}

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The items in the order they were added. Any peer can write anything into the state, so what is not
 * an item (no text) is skipped and odd fields fall back to defaults.
 */
function itemsOf(state: JsonObject): Array<[string, Item]> {
  const items = state.items;
  if (!isObject(items)) return [];
  return Object.entries(items)
    .flatMap(([id, item]): Array<[string, Item]> => {
      if (!isObject(item) || typeof item.text !== 'string') return [];
      const by = typeof item.by === 'string' ? item.by : '';
      const at = typeof item.at === 'number' ? item.at : 0;
      return [[id, { text: item.text, done: Boolean(item.done), by, at }]];
    })
    .sort((a, b) => a[1].at - b[1].at);
}

/** Renders the checklist of `room` now and on every change, and wires its form. */
export function showChecklist(room: Room): void {
  const list = byId('items', HTMLDivElement);
  const failed = (error: unknown) => toast(`Not saved: ${messageOf(error)}`);
  const patch = (change: JsonObject) => room.state.patch({ items: change }).catch(failed);

  function render(): void {
    const items = itemsOf(room.state.value);
    list.replaceChildren();
    const done = items.filter(([, item]) => item.done).length;
    byId('todo-count', HTMLSpanElement).textContent = String(items.length - done);
    if (items.length === 0) {
      list.append(
        h(
          'div',
          { class: 'empty' },
          'Nothing here yet. Add an item: everyone in the room sees it at once, and so will whoever joins later.',
        ),
      );
      return;
    }
    list.append(h('div', { class: 'progress' }, `${done} of ${items.length} done`));
    for (const [id, item] of items) {
      const box = h('input', { type: 'checkbox', 'aria-label': 'Done' });
      box.checked = item.done;
      box.addEventListener('change', () => patch({ [id]: { done: box.checked } }));
      const remove = h('button', { class: 'remove', type: 'button', title: 'Remove' });
      remove.innerHTML = icons.trash;
      remove.addEventListener('click', () => patch({ [id]: null }));
      const body = h(
        'div',
        { class: 'body' },
        h('span', { class: 'text' }, item.text),
        h('span', { class: 'by' }, item.by ? `Added by ${item.by}` : ''),
      );
      list.append(h('div', { class: `item${item.done ? ' done' : ''}`, 'data-item': id }, box, body, remove));
    }
  }

  const input = byId('item-input', HTMLInputElement);
  byId('item-form', HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const id = crypto.randomUUID().slice(0, 8);
    patch({ [id]: { text, done: false, by: room.self.name || 'Guest', at: Date.now() } });
    input.value = '';
  });
  room.state.on('change', render);
  render();
}
