import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, systemClock } from '../../time/clock.js';

describe('systemClock timers beyond Node’s limit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a delay longer than 2^31-1 ms fires when due, not after 1 ms', () => {
    vi.useFakeTimers();
    let fired = 0;
    const delay = Number.MAX_SAFE_INTEGER;
    systemClock.setTimer(delay, () => fired++);
    vi.advanceTimersByTime(1_000);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).toBe(0);
  });

  it('a delay of 30 days fires after 30 days, in steps the runtime honours', () => {
    vi.useFakeTimers();
    let fired = 0;
    const days30 = 30 * 24 * 3600 * 1000;
    systemClock.setTimer(days30, () => fired++);
    vi.advanceTimersByTime(days30 - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
  });

  it('cancel() stops a long timer whichever step it is in', () => {
    vi.useFakeTimers();
    let fired = 0;
    const timer = systemClock.setTimer(MAX_TIMER_MS * 2, () => fired++);
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    timer.cancel();
    vi.advanceTimersByTime(MAX_TIMER_MS * 2);
    expect(fired).toBe(0);
  });
});
