/**
 * The demo's shared notes: a Yjs text (`Y.Text` "notes" of the room's document "notes") bound to a
 * textarea, synced by the Yjs provider over the room (the hub keeps the document for late joiners
 * and reloads) and over the call's data channels. Awareness says who is editing.
 */
import type { Call, Room } from '../../client/index.ts';
import { type DocSync, syncDoc, Y } from '../../client/yjs/index.ts';
import { byId, messageOf, toast } from './ui.ts';

/** What a peer tells the others about itself while the notes are open. */
interface NotesPresence {
  name: string;
  editing: boolean;
}

/** Where a position of the old text is after a change (Yjs `delta`: retain, insert, delete). */
function mapIndex(
  index: number,
  delta: Array<{ retain?: number; insert?: unknown; delete?: number }>,
): number {
  let position = 0;
  let mapped = index;
  for (const op of delta) {
    if (position >= index) break;
    if (op.retain) position += op.retain;
    else if (typeof op.insert === 'string') mapped += op.insert.length;
    else if (op.delete) {
      mapped -= Math.min(op.delete, index - position);
      position += op.delete;
    }
  }
  return mapped;
}

/** Binds the notes panel to the room's "notes" document; returns the provider. */
export function showNotes(room: Room, call: Call): DocSync {
  const doc = new Y.Doc();
  const text = doc.getText('notes');
  const sync = syncDoc(room, 'notes', doc, { call });
  const area = byId('notes-input', HTMLTextAreaElement);
  const who = byId('notes-who', HTMLDivElement);
  const status = byId('notes-status', HTMLSpanElement);
  const local = Symbol('textarea');

  // Typing: the smallest change between the text and the textarea, as one Yjs transaction.
  area.addEventListener('input', () => {
    const before = text.toString();
    const after = area.value;
    let start = 0;
    while (start < before.length && start < after.length && before[start] === after[start]) start++;
    let end = 0;
    while (
      end < before.length - start &&
      end < after.length - start &&
      before[before.length - 1 - end] === after[after.length - 1 - end]
    ) {
      end++;
    }
    doc.transact(() => {
      text.delete(start, before.length - start - end);
      text.insert(start, after.slice(start, after.length - end));
    }, local);
  });
  // Everyone else's changes: the textarea follows, and our selection stays where it was in the text.
  text.observe((event, transaction) => {
    if (transaction.origin === local) return;
    const delta = event.delta as Array<{ retain?: number; insert?: unknown; delete?: number }>;
    const [from, to] = [mapIndex(area.selectionStart, delta), mapIndex(area.selectionEnd, delta)];
    area.value = text.toString();
    if (document.activeElement === area) area.setSelectionRange(from, to);
  });

  const awareness = sync.awareness!;
  const me = (editing: boolean): NotesPresence => ({ name: room.self.name || 'Guest', editing });
  awareness.setLocalStateField('notes', me(false));
  area.addEventListener('focus', () => awareness.setLocalStateField('notes', me(true)));
  area.addEventListener('blur', () => awareness.setLocalStateField('notes', me(false)));
  const render = () => {
    const editing: string[] = [];
    for (const [client, state] of awareness.getStates()) {
      const notes = (state as { notes?: Partial<NotesPresence> }).notes;
      if (client !== doc.clientID && notes?.editing && typeof notes.name === 'string')
        editing.push(notes.name);
    }
    const synced = sync.synced ? 'Shared with the room' : 'Loading the notes…';
    status.textContent = editing.length > 0 ? `${synced} · ${editing.join(', ')} editing` : synced;
    who.toggleAttribute('data-synced', sync.synced);
  };
  awareness.on('change', render);
  sync.on('synced', () => {
    area.value = text.toString();
    render();
  });
  sync.on('error', ({ error }) => toast(`Notes: ${messageOf(error)}`));
  render();
  return sync;
}
