import { WriteBatcher } from './catalog-writer';

/** A batcher whose writes are recorded, each held open until the test lets it finish. */
function recordingBatcher() {
  const writes: string[][] = [];
  const holds: (() => void)[] = [];
  let failNext = false;
  const batcher = new WriteBatcher<string>(async (items) => {
    writes.push(items);
    await new Promise<void>((done) => holds.push(done));
    if (failNext) {
      failNext = false;
      throw new Error('disk full');
    }
  });
  /** Lets the oldest write finish once one has started; fails if none starts within 100 turns of the event loop. */
  const finishWrite = async () => {
    for (let turn = 0; holds.length === 0; turn++) {
      if (turn === 100) throw new Error('no write started');
      await new Promise((next) => setImmediate(next));
    }
    holds.shift()!();
  };
  return { batcher, writes, finishWrite, failNextWrite: () => (failNext = true) };
}

describe('WriteBatcher', () => {
  it('writes what is added in one turn together', async () => {
    const { batcher, writes, finishWrite } = recordingBatcher();
    const done = Promise.all([batcher.add('a'), batcher.add('b'), batcher.add('c')]);
    await finishWrite();
    await done;
    expect(writes).toEqual([['a', 'b', 'c']]);
  });

  it('writes what is added during a write in the next one, together', async () => {
    const { batcher, writes, finishWrite } = recordingBatcher();
    const first = batcher.add('a');
    await new Promise((next) => setImmediate(next));
    expect(writes).toEqual([['a']]);
    const later = Promise.all([batcher.add('b'), batcher.add('c')]);
    await finishWrite();
    await first;
    await finishWrite();
    await later;
    expect(writes).toEqual([['a'], ['b', 'c']]);
  });

  it('writes an item added as soon as the previous write settled', async () => {
    const { batcher, writes, finishWrite } = recordingBatcher();
    const first = batcher.add('a');
    await finishWrite();
    await first;
    // Added in the very turn the first caller resumed: it must start a write of its own.
    const second = batcher.add('b');
    await finishWrite();
    await second;
    expect(writes).toEqual([['a'], ['b']]);
  });

  it('rejects the callers of a failed write, and goes on with the next', async () => {
    const { batcher, writes, finishWrite, failNextWrite } = recordingBatcher();
    failNextWrite();
    const failed = Promise.all([batcher.add('a'), batcher.add('b')]);
    await finishWrite();
    await expect(failed).rejects.toThrow('disk full');
    const next = batcher.add('c');
    await finishWrite();
    await next;
    expect(writes).toEqual([['a', 'b'], ['c']]);
  });
});
