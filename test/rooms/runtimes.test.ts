/**
 * Rooms come with the hub on every runtime (they are part of `createApp`): on Node, Bun, Deno and
 * workerd, a peer joins, sees another peer arrive, receives its private message, reads the state
 * it patched, and a late joiner reads the Yjs document the others edited (merged by Yjs on the hub).
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { join, peerStreamUrl, postJson, publishWith, roomsEnv } from '../helpers/rooms.ts';
import { persistDir, runtimeBinary, runtimes } from '../helpers/runtimes.ts';
import { openStream } from '../helpers/sse.ts';
import { bundleWorker, SHARDED_FIXTURE, startShardedWorkerd } from '../helpers/workerd-bundle.ts';

// Missing binaries fail this file at collection, rather than leaving its tests unrun.
for (const name of ['bun', 'deno', 'wrangler'] as const) runtimeBinary(name);

type Start = (env: Record<string, string>) => Promise<{ url: string; stop(): Promise<unknown> }>;

/** Workers past one object: the room lives in an object of its own (`room:everywhere`). */
const sharded: Start = async (env) => {
  const dir = await persistDir();
  const { code } = await bundleWorker(SHARDED_FIXTURE);
  const hub = await startShardedWorkerd(code, { ...env, SSEHUB_SHARDS: '4', SSEHUB_RELAYS: '2' }, dir.path);
  return {
    url: hub.url,
    stop: async () => {
      await hub.stop();
      await dir.remove();
    },
  };
};
const starts: Record<string, Start> = { ...runtimes, 'workerd with 4 shards and 2 relays': sharded };

describe.each(Object.keys(starts))('rooms on %s', (runtime) => {
  it('joins, shows presence, delivers to an inbox, and keeps the state', async () => {
    const hub = await starts[runtime]!(roomsEnv);
    try {
      const alice = (await join(hub.url, 'everywhere', { name: 'Alice' })).answer;
      const stream = await openStream(peerStreamUrl(hub.url, alice), {
        authorization: `Bearer ${alice.token}`,
      });
      expect(stream.status).toBe(200);
      const bob = (await join(hub.url, 'everywhere', { name: 'Bob' })).answer;
      const bobStream = await openStream(peerStreamUrl(hub.url, bob), {
        authorization: `Bearer ${bob.token}`,
      });
      await stream.waitFor(
        () => stream.events.some((e) => e.event === 'mercure' && e.data.includes(`"peer":"${bob.peer}"`)),
        "Bob's presence",
      );
      const sent = await publishWith(hub.url, bob.token, [
        ['topic', alice.topics.inbox],
        ['data', JSON.stringify({ from: bob.peer, items: [{ type: 'message', data: 'hi' }] })],
        ['private', 'on'],
        ['type', 'direct'],
      ]);
      expect(sent.status).toBe(200);
      await stream.waitFor(() => stream.events.some((e) => e.event === 'direct'), 'the message');
      const patched = await postJson(`${hub.url}/rooms/everywhere/state`, bob.token, {
        ref: 'r1',
        patch: { on: runtime },
      });
      expect(patched.status).toBe(200);
      await stream.waitFor(() => stream.events.some((e) => e.event === 'state'), 'the patch');
      const late = (await join(hub.url, 'everywhere')).answer;
      expect(late.state).toMatchObject({ version: 1, value: { on: runtime } });
      expect(late.peers.map((p) => p.name).sort()).toEqual(['Alice', 'Bob']);

      // Two peers edit one Yjs document from the same start; the hub merges, a late joiner reads all.
      const docUrl = `${hub.url}/rooms/everywhere/docs/notes`;
      const base = new Y.Doc();
      base.getText('t').insert(0, 'base');
      const edits = await Promise.all(
        [alice, bob].map((peer) => {
          const doc = new Y.Doc();
          Y.applyUpdate(doc, Y.encodeStateAsUpdate(base));
          doc.getText('t').insert(4, ` ${peer.peer === alice.peer ? 'alice' : 'bob'}`);
          return fetch(docUrl, {
            method: 'POST',
            headers: { authorization: `Bearer ${peer.token}`, 'content-type': 'application/octet-stream' },
            body: Y.encodeStateAsUpdate(doc) as Uint8Array<ArrayBuffer>,
          });
        }),
      );
      expect(edits.map((r) => r.status)).toEqual([204, 204]);
      await stream.waitFor(
        () => stream.events.filter((e) => e.event === 'doc').length >= 2,
        'the doc updates',
      );
      const read = await fetch(docUrl, { headers: { authorization: `Bearer ${late.token}` } });
      expect(read.headers.get('content-type')).toBe('application/octet-stream');
      const merged = new Y.Doc();
      Y.applyUpdate(merged, new Uint8Array(await read.arrayBuffer()));
      expect(['base alice bob', 'base bob alice']).toContain(merged.getText('t').toString());
      stream.close();
      bobStream.close();
    } finally {
      await hub.stop();
    }
  }, 90_000);
});
