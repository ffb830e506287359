import { describe, expect, it } from 'vitest';
import { RoomState, type StateLink } from './room-state.ts';

/** A link that records what the state sends and answers each post when told to. */
function fakeLink(maxBytes = 64 * 1024) {
  const posts: { suffix: string; body: { ref?: string; patch?: unknown; state?: unknown } }[] = [];
  const answers: (() => void)[] = [];
  const leaving: { patches: { ref: string; patch: unknown }[] }[] = [];
  const link: StateLink = {
    maxBytes,
    post(suffix, body) {
      posts.push({ suffix, body: body as (typeof posts)[number]['body'] });
      return new Promise((resolve) => answers.push(() => resolve({})));
    },
    wait: async () => true,
    leaving: (body) => leaving.push(body as (typeof leaving)[number]),
  };
  /** Answers the oldest unanswered post, then lets the state send its next one. */
  const answer = async () => {
    answers.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { link, posts, answer, leaving };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('RoomState while the room resynchronizes', () => {
  it('holds a patch until the new snapshot arrives, then restores what it held before sending it', async () => {
    const { link, posts, answer } = fakeLink();
    const state = new RoomState(link, { epoch: 'old', version: 2, value: { a: 1, b: 2 } });

    state.hold(); // The hub lost history: the room is joining again.
    const patched = state.patch({ c: 3 });
    await tick();
    expect(posts).toEqual([]); // Not sent onto a state the hub may have lost.
    expect(state.value).toEqual({ a: 1, b: 2, c: 3 }); // Still shown at once.

    // The hub's state is a new, empty lineage: give back what we held, then our patch on top.
    state.reset({ epoch: 'new', version: 0, value: {} });
    await tick();
    expect(posts.map((p) => p.suffix)).toEqual(['/restore']);
    expect(posts[0]!.body.state).toEqual({ a: 1, b: 2 });
    await answer();
    expect(posts.map((p) => p.suffix)).toEqual(['/restore', '']);
    expect(posts[1]!.body.patch).toEqual({ c: 3 });
    await answer();
    await patched;
  });

  it('sends at once when not held', async () => {
    const { link, posts, answer } = fakeLink();
    const state = new RoomState(link, { epoch: 'e', version: 0, value: {} });
    const patched = state.patch({ x: 1 });
    await tick();
    expect(posts.map((p) => p.body.patch)).toEqual([{ x: 1 }]);
    await answer();
    await patched;
  });
});

describe('RoomState as the room closes', () => {
  it('sends what the hub has not confirmed once more, in order, in one request, and rejects it all', async () => {
    const { link, posts, answer, leaving } = fakeLink();
    const state = new RoomState(link, { epoch: 'e', version: 0, value: {} });
    const confirmed = state.patch({ a: 1 });
    await tick();
    await answer();
    await confirmed;
    const inFlight = state.patch({ b: 1 });
    const queued = state.patch({ b: 2, c: 3 });
    await tick();
    expect(posts.map((p) => p.body.patch)).toEqual([{ a: 1 }, { b: 1 }]);
    state.close();
    expect(leaving).toHaveLength(1);
    expect(leaving[0]!.patches.map((p) => p.patch)).toEqual([{ b: 1 }, { b: 2, c: 3 }]);
    // The one in flight goes again under its own ref: the hub skips it if it had applied it.
    expect(leaving[0]!.patches[0]!.ref).toBe(posts[1]!.body.ref);
    await expect(inFlight).rejects.toMatchObject({ code: 'aborted' });
    await expect(queued).rejects.toMatchObject({ code: 'aborted' });
  });

  it('sends as many as fit the room’s message size, and nothing when all were confirmed', async () => {
    const { link, leaving } = fakeLink(2000);
    const state = new RoomState(link, { epoch: 'e', version: 0, value: {} });
    const patches = [0, 1, 2, 3].map((i) => state.patch({ [`k${i}`]: 'x'.repeat(700) }).catch(() => {}));
    await tick();
    state.close();
    expect(leaving[0]!.patches.map((p) => Object.keys(p.patch as object)[0])).toEqual(['k0', 'k1']);
    await Promise.all(patches);

    const quiet = fakeLink();
    const done = new RoomState(quiet.link, { epoch: 'e', version: 0, value: {} });
    const one = done.patch({ a: 1 });
    await tick();
    await quiet.answer();
    await one;
    done.close();
    expect(quiet.leaving).toEqual([]);
  });

  it('sends nothing while the room resynchronizes (the hub may have lost the state the peers give back)', async () => {
    const { link, leaving } = fakeLink();
    const state = new RoomState(link, { epoch: 'e', version: 2, value: { a: 1 } });
    state.hold();
    const held = state.patch({ b: 1 });
    state.close();
    expect(leaving).toEqual([]);
    await expect(held).rejects.toMatchObject({ code: 'aborted' });
  });
});
