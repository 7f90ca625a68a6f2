import { describe, expect, it } from 'vitest';
import { AddWaitQueue } from '../../agent/add-wait-queue.js';
import { ManualClock } from '../../time/manual-clock.js';

describe('AddWaitQueue', () => {
  it('serves waiters in arrival order and skips one whose constraints cannot be met yet', async () => {
    const clock = new ManualClock();
    const queue = new AddWaitQueue<string, string>(clock);
    const a = queue.wait('subnet-a', 20_000);
    const b = queue.wait('subnet-b', 20_000);
    const c = queue.wait('subnet-a', 20_000);
    expect(queue.waiting()).toEqual(['subnet-a', 'subnet-b', 'subnet-a']);

    await clock.advance(1_500);
    const free = ['10.0.0.5', '10.0.0.6'];
    const served = queue.serve((subnet) => (subnet === 'subnet-a' ? free.shift() : undefined));
    expect(served).toBe(2);
    await expect(a).resolves.toEqual({ kind: 'served', result: '10.0.0.5', waitedMs: 1_500 });
    await expect(c).resolves.toEqual({ kind: 'served', result: '10.0.0.6', waitedMs: 1_500 });
    expect(queue.waiting()).toEqual(['subnet-b']);

    await clock.advance(18_500);
    await expect(b).resolves.toEqual({ kind: 'timeout', waitedMs: 20_000 });
    expect(queue.length).toBe(0);
  });

  it('stops waiting when the request is aborted and never answers twice', async () => {
    const clock = new ManualClock();
    const queue = new AddWaitQueue<null, number>(clock);
    const controller = new AbortController();
    const pending = queue.wait(null, 20_000, controller.signal);
    await clock.advance(100);
    controller.abort();
    await expect(pending).resolves.toEqual({ kind: 'aborted', waitedMs: 100 });
    expect(queue.serve(() => 1)).toBe(0);
    await clock.advance(30_000);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('reports how long the oldest waiter has waited', async () => {
    const clock = new ManualClock();
    const queue = new AddWaitQueue<null, number>(clock);
    expect(queue.oldestWaitMs()).toBe(0);
    void queue.wait(null, 5_000);
    await clock.advance(1_200);
    void queue.wait(null, 5_000);
    expect(queue.oldestWaitMs()).toBe(1_200);
    queue.drain();
    expect(queue.length).toBe(0);
  });
});
