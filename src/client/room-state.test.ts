import { describe, expect, it } from 'vitest';
import { RoomState, type StateLink } from './room-state.ts';

/** A link that records what the state sends and answers each post when told to. */
function fakeLink() {
  const posts: { suffix: string; body: { ref?: string; patch?: unknown; state?: unknown } }[] = [];
  const answers: (() => void)[] = [];
  const link: StateLink = {
    maxBytes: 64 * 1024,
    post(suffix, body) {
      posts.push({ suffix, body: body as (typeof posts)[number]['body'] });
      return new Promise((resolve) => answers.push(() => resolve({})));
    },
    wait: async () => true,
  };
  /** Answers the oldest unanswered post, then lets the state send its next one. */
  const answer = async () => {
    answers.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { link, posts, answer };
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
