import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createMemoryBroker } from '../brokers/index.ts';
import { HubError } from '../hub/index.ts';
import { parseDocEvent } from '../room-protocol/index.ts';
import { compacted, MAX_DOCS_PER_ROOM, RoomDocs } from './docs.ts';

/** A Yjs update that sets text `t` of a fresh document to `text`. */
function textUpdate(text: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText('t').insert(0, text);
  return Y.encodeStateAsUpdate(doc);
}

const textOf = (state: Uint8Array) => {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  return doc.getText('t').toString();
};

const statusOf = (error: unknown) => (error instanceof HubError ? error.status : error);

describe('RoomDocs', () => {
  it('merges concurrent updates of one document into the snapshot, and logs each as a doc event', async () => {
    const broker = createMemoryBroker();
    const docs = new RoomDocs(broker, { maxDocBytes: 64 * 1024 });
    const a = new Y.Doc();
    const b = new Y.Doc();
    a.getText('t').insert(0, 'from a');
    b.getText('t').insert(0, 'from b');
    await Promise.all([
      docs.update('r', 'notes', Y.encodeStateAsUpdate(a), 'pa'),
      docs.update('r', 'notes', Y.encodeStateAsUpdate(b), 'pb'),
    ]);
    const merged = new Y.Doc();
    Y.applyUpdate(merged, Y.encodeStateAsUpdate(a));
    Y.applyUpdate(merged, Y.encodeStateAsUpdate(b));
    expect(textOf(await docs.snapshot('r', 'notes'))).toBe(merged.getText('t').toString());
    expect(textOf(await docs.snapshot('r', 'other'))).toBe('');
    const { updates } = await broker.history('earliest');
    expect(updates.map((u) => [u.topics, u.type, u.private])).toEqual([
      [['/rooms/r/state'], 'doc', true],
      [['/rooms/r/state'], 'doc', true],
    ]);
    const senders = updates.map((u) => {
      const event = parseDocEvent(u.data);
      return event?.kind === 'update' ? event.from : undefined;
    });
    expect(senders).toEqual(['pa', 'pb']);
    docs.close();
  });

  it('refuses what is not a Yjs update with 400, whatever the bytes, and keeps the document', async () => {
    const docs = new RoomDocs(createMemoryBroker(), { maxDocBytes: 64 * 1024 });
    await docs.update('r', 'd', textUpdate('kept'), null);
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(1 + Math.floor(Math.random() * 64)));
      try {
        await docs.update('r', 'd', bytes, null);
      } catch (error) {
        expect(statusOf(error)).toBe(400);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(200);
    expect(textOf(await docs.snapshot('r', 'd'))).toContain('kept');
    await expect(docs.update('r', 'd', new TextEncoder().encode('{"not":"yjs"}'), null)).rejects.toThrow(
      /not a Yjs update/,
    );
    docs.close();
  });

  it('refuses with 413 a change past the document limit, counted after deleted content is collected', async () => {
    const docs = new RoomDocs(createMemoryBroker(), { maxDocBytes: 4096 });
    const doc = new Y.Doc();
    const sent: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => sent.push(u));
    doc.getText('t').insert(0, 'x'.repeat(3000));
    doc.getText('t').delete(0, 3000);
    doc.getText('t').insert(0, 'y'.repeat(3000));
    // Raw, the three updates hold 6000 characters; collected, the deleted 3000 weigh a few bytes.
    for (const update of sent) await docs.update('r', 'd', update, null);
    expect(textOf(await docs.snapshot('r', 'd'))).toBe('y'.repeat(3000));
    const error = await docs.update('r', 'd', textUpdate('z'.repeat(2000)), null).catch((e: unknown) => e);
    expect(statusOf(error)).toBe(413);
    expect(textOf(await docs.snapshot('r', 'd'))).toBe('y'.repeat(3000));
    docs.close();
  });

  it(`holds at most ${MAX_DOCS_PER_ROOM} documents per room (409 for one more)`, async () => {
    const docs = new RoomDocs(createMemoryBroker(), { maxDocBytes: 4096 });
    for (let i = 0; i < MAX_DOCS_PER_ROOM; i++) await docs.update('r', `d${i}`, textUpdate('x'), null);
    const error = await docs.update('r', 'one-more', textUpdate('x'), null).catch((e: unknown) => e);
    expect(statusOf(error)).toBe(409);
    await docs.update('r', 'd0', textUpdate('again'), null);
    await docs.update('other-room', 'd', textUpdate('x'), null);
    docs.close();
  });

  it('compacts into the log, so a hub that starts after the first updates left history has the whole document', async () => {
    // A short history: most updates are gone by the time the second instance starts.
    const broker = createMemoryBroker({ historySize: 30 });
    const docs = new RoomDocs(broker, { maxDocBytes: 64 * 1024 });
    const doc = new Y.Doc();
    const text = doc.getText('t');
    for (let i = 0; i < 60; i++) {
      const before = Y.encodeStateVector(doc);
      text.insert(text.length, `line ${i} ${'.'.repeat(200)}\n`);
      await docs.update('r', 'd', Y.encodeStateAsUpdate(doc, before), 'p');
    }
    const { updates } = await broker.history('earliest');
    const kinds = updates.map((u) => parseDocEvent(u.data)?.kind);
    expect(kinds).toContain('compact');
    expect(kinds.filter((k) => k === 'update').length).toBeLessThan(30);
    const restarted = new RoomDocs(broker, { maxDocBytes: 64 * 1024 });
    await restarted.ready;
    expect(textOf(await restarted.snapshot('r', 'd'))).toBe(text.toString());
    docs.close();
    restarted.close();
  });

  it('compacted() drops deleted content', () => {
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    doc.getText('t').insert(0, 'x'.repeat(10_000));
    doc.getText('t').delete(0, 10_000);
    const merged = Y.mergeUpdates(updates);
    expect(merged.length).toBeGreaterThan(10_000);
    expect(compacted(merged).length).toBeLessThan(100);
  });
});
