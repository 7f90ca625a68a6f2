/**
 * The one event the CNI backend (NodeIpam) and the pool driver share: the datastore changed. Each
 * reacts to the kind of change that concerns it, and neither holds a reference to the other:
 * - `supply`: addresses arrived or left (EC2 work finished, a resync): waiting ADDs may be served.
 * - `demand`: pods took or returned addresses (ADD, DEL, GC, a cooldown ended, leaks released):
 *   the pool may have to grow or shrink.
 * Listeners run synchronously, in the order they subscribed.
 */
export type PoolChange = 'supply' | 'demand';

export class PoolChanges {
  private readonly listeners: ((change: PoolChange) => void)[] = [];

  on(change: PoolChange, listener: () => void): void {
    this.listeners.push((c) => {
      if (c === change) listener();
    });
  }

  emit(change: PoolChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
