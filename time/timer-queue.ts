/** One timer waiting in a ManualClock. */
export interface QueuedTimer {
  /** Due time (ms). */
  readonly at: number;
  /** Creation order: breaks ties between timers due at the same instant. */
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

function before(a: QueuedTimer, b: QueuedTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * The simulated clock's timers, earliest (due time, then creation order) first: a binary heap, so
 * that adding and taking a timer cost O(log n) with the tens of thousands a simulation of a
 * thousand nodes keeps waiting (a sorted array's splice and shift moved the whole queue each time).
 * Cancelled timers stay until they reach the front, where `peek` and `pop` skip them.
 */
export class TimerQueue<T extends QueuedTimer = QueuedTimer> {
  private readonly heap: T[] = [];

  push(timer: T): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      const above = heap[parent] as T;
      if (!before(timer, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = timer;
  }

  /** The earliest live timer, left in the queue. */
  peek(): T | undefined {
    this.dropCancelled();
    return this.heap[0];
  }

  /** Takes the earliest live timer out of the queue. */
  pop(): T | undefined {
    this.dropCancelled();
    return this.removeTop();
  }

  private dropCancelled(): void {
    while (this.heap[0]?.cancelled === true) this.removeTop();
  }

  private removeTop(): T | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    // Sift the last timer down from the root to its place.
    const n = heap.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const leftTimer = heap[left] as T;
      const rightTimer = heap[right];
      const child = rightTimer !== undefined && before(rightTimer, leftTimer) ? right : left;
      const childTimer = heap[child] as T;
      if (!before(childTimer, last)) break;
      heap[i] = childTimer;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
