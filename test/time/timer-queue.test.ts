import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerQueue, type QueuedTimer } from '../../time/timer-queue.js';

const timer = (at: number, seq: number, cancelled = false): QueuedTimer => ({
  at,
  seq,
  fn: () => undefined,
  cancelled,
});

function drain(queue: TimerQueue): number[] {
  const order: number[] = [];
  for (let t = queue.pop(); t !== undefined; t = queue.pop()) order.push(t.seq);
  return order;
}

describe('TimerQueue', () => {
  it('gives timers earliest first, ties in creation order, skipping cancelled ones', () => {
    const queue = new TimerQueue();
    [timer(30, 0), timer(10, 1), timer(10, 2, true), timer(20, 3), timer(10, 4)].forEach((t) => {
      queue.push(t);
    });
    expect(queue.peek()?.seq).toBe(1);
    expect(drain(queue)).toEqual([1, 4, 3, 0]);
    expect(queue.peek()).toBeUndefined();
  });

  it('skips a timer cancelled after it was queued', () => {
    const queue = new TimerQueue();
    const first = timer(5, 0);
    queue.push(first);
    queue.push(timer(7, 1));
    first.cancelled = true;
    expect(queue.peek()?.seq).toBe(1);
  });

  it('orders any mix of pushes, pops and cancellations as a sort by (due, creation) would', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('push' as const), at: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ op: fc.constant('pop' as const) }),
      fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const queue = new TimerQueue();
        const waiting: QueuedTimer[] = [];
        let seq = 0;
        for (const s of steps) {
          if (s.op === 'push') {
            const t = timer(s.at, seq++);
            queue.push(t);
            waiting.push(t);
          } else if (s.op === 'cancel') {
            const t = waiting[s.pick % Math.max(1, waiting.length)];
            if (t) t.cancelled = true;
          } else {
            const live = waiting.filter((t) => !t.cancelled).sort((a, b) => a.at - b.at || a.seq - b.seq);
            const expected = live[0];
            expect(queue.pop()).toBe(expected);
            if (expected) waiting.splice(waiting.indexOf(expected), 1);
          }
        }
        const rest = waiting.filter((t) => !t.cancelled).sort((a, b) => a.at - b.at || a.seq - b.seq);
        expect(drain(queue)).toEqual(rest.map((t) => t.seq));
      }),
    );
  });
});
