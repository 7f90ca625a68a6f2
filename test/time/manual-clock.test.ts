import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../time/manual-clock.js';
import { isAbortError, repeatEvery } from '../../time/clock.js';

describe('ManualClock', () => {
  it('fires timers in due order, ties in creation order, only when advanced', async () => {
    const clock = new ManualClock(1_000);
    const fired: string[] = [];
    clock.setTimer(300, () => fired.push('c'));
    clock.setTimer(100, () => fired.push('a'));
    clock.setTimer(100, () => fired.push('b'));
    const cancelled = clock.setTimer(200, () => fired.push('x'));
    cancelled.cancel();
    expect(fired).toEqual([]);
    await clock.advance(150);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(1_150);
    await clock.advance(1_000);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('lets a chain of sleeps run within one advance', async () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    const chain = (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(10);
        seen.push(clock.now());
      }
    })();
    await clock.advance(30);
    await chain;
    expect(seen).toEqual([10, 20, 30]);
  });

  it('rejects a sleep with an AbortError when its signal aborts', async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    const sleeping = clock.sleep(1_000, controller.signal);
    controller.abort();
    await expect(sleeping).rejects.toSatisfy(isAbortError);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('runUntil stops as soon as the condition holds', async () => {
    const clock = new ManualClock(0);
    let done = false;
    clock.setTimer(50, () => (done = true));
    clock.setTimer(500, () => undefined);
    expect(await clock.runUntil(() => done, 10_000)).toBe(true);
    expect(clock.now()).toBe(50);
    expect(await clock.runUntil(() => false, 100)).toBe(false);
    expect(clock.now()).toBe(150);
  });
});

describe('repeatEvery', () => {
  it('ticks after every interval, first after one, and stops when the signal aborts', async () => {
    const clock = new ManualClock(0);
    const stop = new AbortController();
    const at: number[] = [];
    const loop = repeatEvery(clock, 1_000, stop.signal, () => {
      at.push(clock.now());
    });
    await clock.advance(3_500);
    expect(at).toEqual([1_000, 2_000, 3_000]);
    stop.abort();
    await loop;
    await clock.advance(5_000);
    expect(at).toHaveLength(3);
  });
});
