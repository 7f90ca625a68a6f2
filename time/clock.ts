/**
 * Every timer in eni-ipam goes through a Clock so that tests and the simulator can run on
 * simulated time: cooldowns, TTL caches, backoff, batching windows, limiter refills and waits.
 * Nothing below agent/main reads Date.now() or calls setTimeout directly.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch (simulated or real). */
  now(): number;
  /** Resolves after `ms`; rejects with an AbortError as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once after `ms`, unless cancelled first. */
  setTimer(ms: number, fn: () => void): Timer;
}

export function abortError(signal?: AbortSignal): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  return err;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/** Runs `start` with a timer; shared by both clocks so that abort handling is written once. */
/**
 * Calls `tick` after every `intervalMs` until `signal` aborts (the first call after one interval);
 * resolves when the signal aborts. A tick that throws ends the loop with its error.
 */
export async function repeatEvery(
  clock: Pick<Clock, 'sleep'>,
  intervalMs: number,
  signal: AbortSignal,
  tick: () => void | Promise<void>,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await clock.sleep(intervalMs, signal);
    } catch (err) {
      if (isAbortError(err)) return;
      throw err;
    }
    await tick();
  }
}

export function sleepWith(clock: Pick<Clock, 'setTimer'>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      timer.cancel();
      reject(abortError(signal));
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The longest delay Node's setTimeout honours (2^31-1 ms, about 24.8 days): it fires a longer one
 * after 1 ms. A longer delay is waited in steps of at most this; Infinity never fires.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleepWith(systemClock, ms, signal),
  setTimer(ms, fn) {
    let handle: ReturnType<typeof setTimeout>;
    const arm = (left: number): void => {
      const step = Math.min(left, MAX_TIMER_MS);
      handle = setTimeout(() => {
        if (left > MAX_TIMER_MS) arm(left - MAX_TIMER_MS);
        else fn();
      }, step);
      // A pending timer must never keep a stopping process alive; lifecycles end work explicitly.
      handle.unref();
    };
    arm(Number.isNaN(ms) ? 0 : Math.max(0, ms));
    return {
      cancel: () => {
        clearTimeout(handle);
      },
    };
  },
};
