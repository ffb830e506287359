/**
 * The Yjs document endpoints of rooms over HTTP: who may read and write, what the hub refuses and
 * with which status, and that a refused request leaves the document as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { join, type RestartableHub, startRoomsHub } from '../helpers/rooms.ts';

const MAX_MESSAGE = 2048;
let hub: RestartableHub;
beforeAll(async () => {
  hub = await startRoomsHub({
    SSEHUB_ROOMS_MAX_MESSAGE_BYTES: String(MAX_MESSAGE),
    SSEHUB_ROOMS_MAX_STATE_BYTES: '4096',
  });
});
afterAll(() => hub?.stop());

function textUpdate(text: string): Uint8Array<ArrayBuffer> {
  const doc = new Y.Doc();
  doc.getText('t').insert(0, text);
  return Y.encodeStateAsUpdate(doc) as Uint8Array<ArrayBuffer>;
}

const post = (
  room: string,
  doc: string,
  token: string | undefined,
  body: BodyInit,
  type = 'application/octet-stream',
) =>
  fetch(`${hub.url}/rooms/${room}/docs/${doc}`, {
    method: 'POST',
    headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
const read = async (room: string, doc: string, token: string) => {
  const response = await fetch(`${hub.url}/rooms/${room}/docs/${doc}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const state = new Y.Doc();
  Y.applyUpdate(state, new Uint8Array(await response.arrayBuffer()));
  return state.getText('t').toString();
};

describe('room documents over HTTP', () => {
  it('are written and read by the peers of the room only', async () => {
    const ada = (await join(hub.url, 'docs-a')).answer;
    const other = (await join(hub.url, 'docs-b')).answer;
    expect((await post('docs-a', 'notes', ada.token, textUpdate('hello'))).status).toBe(204);
    expect(await read('docs-a', 'notes', ada.token)).toBe('hello');
    const anonymous = await post('docs-a', 'notes', undefined, textUpdate('x'));
    expect(anonymous.status).toBe(401);
    expect((await post('docs-a', 'notes', other.token, textUpdate('x'))).status).toBe(403);
    const peeking = await fetch(`${hub.url}/rooms/docs-a/docs/notes`, {
      headers: { authorization: `Bearer ${other.token}` },
    });
    expect(peeking.status).toBe(403);
    expect((await fetch(`${hub.url}/rooms/docs-a/docs/notes`)).status).toBe(401);
  });

  it('refuses bad input with a clear 4xx and keeps the document', async () => {
    const ada = (await join(hub.url, 'docs-c')).answer;
    expect((await post('docs-c', 'notes', ada.token, textUpdate('kept'))).status).toBe(204);
    const cases: Array<[string, Response, number, RegExp]> = [
      ['bad name', await post('docs-c', 'no%2Fslash', ada.token, textUpdate('x')), 400, /document names/],
      ['JSON', await post('docs-c', 'notes', ada.token, '{"a":1}', 'application/json'), 415, /octet-stream/],
      ['empty', await post('docs-c', 'notes', ada.token, new Uint8Array(0)), 400, /empty/],
      [
        'garbage',
        await post('docs-c', 'notes', ada.token, new Uint8Array([255, 255, 255, 1, 2])),
        400,
        /not a Yjs update/,
      ],
      [
        'too large',
        await post('docs-c', 'notes', ada.token, new Uint8Array(MAX_MESSAGE + 1)),
        413,
        /larger than/,
      ],
      [
        'document too large',
        await post('docs-c', 'notes', ada.token, textUpdate('y'.repeat(MAX_MESSAGE - 100))),
        204,
        /^$/,
      ],
      [
        'document too large',
        await post('docs-c', 'notes', ada.token, textUpdate('z'.repeat(MAX_MESSAGE - 100))),
        204,
        /^$/,
      ],
      [
        'document too large',
        await post('docs-c', 'notes', ada.token, textUpdate('w'.repeat(MAX_MESSAGE - 100))),
        413,
        /document would be larger/,
      ],
    ];
    for (const [what, response, status, message] of cases) {
      expect([what, response.status]).toEqual([what, status]);
      expect(await response.text()).toMatch(message);
    }
    const text = await read('docs-c', 'notes', ada.token);
    expect(text).toContain('kept');
    expect(text).not.toContain('w');
  });

  it('reserves the "doc" event type to the hub on room topics', async () => {
    const ada = (await join(hub.url, 'docs-d')).answer;
    const response = await fetch(`${hub.url}/.well-known/mercure`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ topic: ada.topics.room, data: '{}', private: 'on', type: 'doc' }),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/reserved to the hub/);
  });
});
