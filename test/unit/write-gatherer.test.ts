import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWriteGatherer } from '../../src/store/sqlite/write-gatherer.js';

afterEach(() => vi.useRealTimers());

/** A gatherer whose posts are recorded and whose "in flight" the test sets. */
function gatherer(options: { max?: number; windowMs?: number } = {}) {
  const posts: number[][] = [];
  let busy = false;
  const gather = createWriteGatherer<number>((batch) => posts.push(batch), { max: options.max ?? 16, windowMs: options.windowMs ?? 5, busy: () => busy });
  return { gather, posts, setBusy: (value: boolean) => (busy = value) };
}

const endOfTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('gathering writes for the writer thread', () => {
  it('with nothing in flight, posts the writes of one turn together at its end, in the order asked', async () => {
    const { gather, posts } = gatherer();
    gather.add(1);
    gather.add(2);
    gather.add(3);
    expect(posts).toEqual([]);
    await endOfTurn();
    expect(posts).toEqual([[1, 2, 3]]);
  });

  it('while earlier writes are unanswered, holds new ones until they are answered, then posts them as one', async () => {
    const { gather, posts, setBusy } = gatherer({ windowMs: 60_000 });
    setBusy(true);
    gather.add(1);
    await endOfTurn();
    gather.add(2);
    await endOfTurn();
    expect(posts).toEqual([]);
    setBusy(false);
    gather.idle();
    gather.add(3);
    await endOfTurn();
    expect(posts).toEqual([[1, 2, 3]]);
  });

  it('holds no longer than the window when the answers do not come', async () => {
    vi.useFakeTimers();
    const { gather, posts, setBusy } = gatherer({ windowMs: 4 });
    setBusy(true);
    gather.add(1);
    gather.add(2);
    vi.advanceTimersByTime(3);
    expect(posts).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(posts).toEqual([[1, 2]]);
  });

  it('posts at once when it holds the most a message takes, and the rest after', async () => {
    const { gather, posts, setBusy } = gatherer({ max: 2, windowMs: 60_000 });
    setBusy(true);
    gather.add(1);
    gather.add(2);
    expect(posts).toEqual([[1, 2]]);
    gather.add(3);
    gather.idle();
    await endOfTurn();
    expect(posts).toEqual([[1, 2], [3]]);
  });

  it('stops holding once a hold fills a whole message before the answers come, until everything is answered', async () => {
    const { gather, posts, setBusy } = gatherer({ max: 2, windowMs: 60_000 });
    setBusy(true);
    gather.add(1);
    gather.add(2);
    expect(posts).toEqual([[1, 2]]);
    // Writes come faster than answers: the next goes at the end of its turn, though earlier ones are in flight.
    gather.add(3);
    await endOfTurn();
    expect(posts).toEqual([[1, 2], [3]]);
    // Everything answered: traffic is moderate again, and a write asked while others are in flight is held.
    gather.idle();
    gather.add(4);
    await endOfTurn();
    expect(posts).toEqual([[1, 2], [3]]);
    setBusy(false);
    gather.idle();
    await endOfTurn();
    expect(posts).toEqual([[1, 2], [3], [4]]);
  });

  it('with a window of 0, posts every turn whatever is in flight', async () => {
    const { gather, posts, setBusy } = gatherer({ windowMs: 0 });
    setBusy(true);
    gather.add(1);
    await endOfTurn();
    gather.add(2);
    await endOfTurn();
    expect(posts).toEqual([[1], [2]]);
  });

  it('a flush posts what it holds at once', () => {
    const { gather, posts, setBusy } = gatherer({ windowMs: 60_000 });
    setBusy(true);
    gather.add(1);
    gather.flush();
    expect(posts).toEqual([[1]]);
  });

  it('an idle with nothing held posts nothing', async () => {
    const { gather, posts } = gatherer();
    gather.idle();
    await endOfTurn();
    expect(posts).toEqual([]);
  });
});
