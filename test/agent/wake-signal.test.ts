import { describe, expect, it } from 'vitest';
import { WakeSignal } from '../../agent/wake-signal.js';

describe('WakeSignal', () => {
  it('coalesces wakes that arrive between two rounds into one', async () => {
    const signal = new WakeSignal();
    signal.wake();
    signal.wake();
    signal.wake();
    await signal.wait();
    let woke = false;
    const next = signal.wait().then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    signal.wake();
    await next;
    expect(woke).toBe(true);
  });

  it('returns when aborted', async () => {
    const signal = new WakeSignal();
    const controller = new AbortController();
    const waiting = signal.wait(controller.signal);
    controller.abort();
    await expect(waiting).resolves.toBeUndefined();
  });
});
