/**
 * Wakes the planning loop. Any number of wake() calls between two rounds coalesce into one round,
 * so a burst of 200 ADDs causes a handful of planning rounds, not 200, and no polling tick is
 * needed: demand, releases, expiries and resyncs each wake it when they happen.
 */
export class WakeSignal {
  private pending = false;
  private waiter: (() => void) | undefined;

  wake(): void {
    this.pending = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Resolves at once when a wake is pending (consuming it), else at the next wake or abort. */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const onAbort = (): void => {
        this.waiter = undefined;
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = () => {
        signal?.removeEventListener('abort', onAbort);
        this.pending = false;
        resolve();
      };
    });
  }
}
