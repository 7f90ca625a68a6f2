import { describe, expect, it } from 'vitest';
import { WARM_UP_CHECK_MS, WarmUpReporter, warmUpDone, type WarmUpView } from '../../agent/warm-up-report.js';
import { ManualClock } from '../../time/manual-clock.js';

function view(overrides: {
  ready?: boolean;
  waiting?: number;
  enis?: number;
  units?: number;
  short?: number;
}): WarmUpView {
  return {
    ready: overrides.ready ?? true,
    waiting: overrides.waiting ?? 0,
    inFlight: { enis: overrides.enis ?? 0, units: overrides.units ?? 0 },
    decision: { plan: { defaultPool: { short: overrides.short ?? 0 } } },
  };
}

describe('warmUpDone', () => {
  it.each([
    { state: {}, done: true },
    { state: { ready: false }, done: false },
    { state: { waiting: 1 }, done: false },
    { state: { enis: 1 }, done: false },
    { state: { units: 2 }, done: false },
    { state: { short: 3 }, done: false },
  ])('is $done for $state', ({ state, done }) => {
    expect(warmUpDone(view(state))).toBe(done);
  });
});

describe('WarmUpReporter', () => {
  it('reports once, when the pool first meets its target, and then stops looking', async () => {
    const clock = new ManualClock();
    let current: WarmUpView | undefined;
    let looks = 0;
    const reports: number[] = [];
    const reporter = new WarmUpReporter({
      clock,
      view: () => {
        looks++;
        if (current === undefined) throw new Error('agent is starting');
        return current;
      },
      sink: { done: () => reports.push(clock.now()) },
    });
    const stop = new AbortController();
    const running = reporter.run(stop.signal);
    await clock.advance(WARM_UP_CHECK_MS);
    current = view({ short: 9, enis: 1 });
    await clock.advance(WARM_UP_CHECK_MS);
    expect(reports).toEqual([]);
    current = view({});
    const metAt = clock.now() + WARM_UP_CHECK_MS;
    await clock.advance(WARM_UP_CHECK_MS);
    await running;
    expect(reports).toEqual([metAt]);
    expect(reporter.done).toBe(true);
    // Churn later does not make the node a contender again, and nobody looks any more.
    current = view({ waiting: 4 });
    const looked = looks;
    await clock.advance(10 * WARM_UP_CHECK_MS);
    expect(looks).toBe(looked);
    expect(reports).toHaveLength(1);
  });

  it('stops without a report when the agent stops first', async () => {
    const clock = new ManualClock();
    const reports: number[] = [];
    const reporter = new WarmUpReporter({
      clock,
      view: () => view({ short: 1 }),
      sink: { done: () => reports.push(clock.now()) },
    });
    const stop = new AbortController();
    const running = reporter.run(stop.signal);
    await clock.advance(3 * WARM_UP_CHECK_MS);
    stop.abort();
    await running;
    expect(reports).toEqual([]);
  });
});
