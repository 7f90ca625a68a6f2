import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../time/clock.js';
import { ManualClock } from '../../time/manual-clock.js';
import { chooseLimiter } from '../../provider/aws-ec2-network.js';
import { BottleneckLimiter, refillSchedule } from '../../provider/bottleneck-limiter.js';
import { MIN_INTERVAL_MS, RECOVERY_STEP, THROTTLE_DECREASE } from '../../provider/adaptive-rate.js';
import { withCallPriority } from '../../provider/call-priority.js';
import type { ContenderCount } from '../../provider/contenders.js';
import {
  ClockTokenBucketLimiter,
  contenderShare,
  contenderStartTokens,
  SHARE_RECHECK_MS,
  throttleHoldMs,
} from '../../provider/limiter.js';
import { SharedBudgetLimiter } from '../../provider/shared-budget.js';
import { noopObserver, type LimiterSample } from '../../provider/observer.js';
import { ACCOUNT_BUCKETS, effectiveBuckets, EC2_APIS, type TokenBucket } from '../../provider/rate-limits.js';
import { sustainedRate, worstBucketExcess } from './limiter-rate.js';

describe('ClockTokenBucketLimiter on simulated time', () => {
  it('never exceeds the bucket and sustains exactly the refill rate', async () => {
    const clock = new ManualClock();
    const buckets = effectiveBuckets({ share: 1 }, false);
    const bucket = buckets.AssignPrivateIpAddresses; // 100 / 5 per s
    const limiter = new ClockTokenBucketLimiter(buckets, clock);
    const starts: number[] = [];
    const total = 300;
    const done = Array.from({ length: total }, () =>
      limiter.schedule('AssignPrivateIpAddresses', () => {
        starts.push(clock.now());
        return Promise.resolve();
      }),
    );
    expect(await clock.runUntil(() => starts.length === total, 120_000)).toBe(true);
    await Promise.all(done);

    expect(starts.filter((t) => t === starts[0]).length).toBe(bucket.size);
    expect(worstBucketExcess(starts, bucket)).toBeLessThanOrEqual(1e-6);
    const rate = sustainedRate(starts, bucket);
    expect(Math.abs(rate - bucket.refillPerSecond) / bucket.refillPerSecond).toBeLessThan(0.05);
  });

  it('keeps APIs on separate buckets', async () => {
    const clock = new ManualClock();
    const buckets = effectiveBuckets(
      { overrides: { AttachNetworkInterface: { size: 1, refillPerSecond: 1 } } },
      false,
    );
    const limiter = new ClockTokenBucketLimiter(buckets, clock);
    const ran: string[] = [];
    void limiter.schedule('AttachNetworkInterface', () => Promise.resolve(ran.push('attach-1')));
    void limiter.schedule('AttachNetworkInterface', () => Promise.resolve(ran.push('attach-2')));
    void limiter.schedule('DescribeSubnets', () => Promise.resolve(ran.push('describe')));
    await clock.advance(0);
    expect(ran).toEqual(['attach-1', 'describe']);
    expect(limiter.queued('AttachNetworkInterface')).toBe(1);
    await clock.advance(999);
    expect(ran).toHaveLength(2);
    await clock.advance(1);
    expect(ran).toEqual(['attach-1', 'describe', 'attach-2']);
  });

  it('throttled() after RequestLimitExceeded removes the burst: the API runs at its refill rate', async () => {
    const clock = new ManualClock();
    const bucket: TokenBucket = { size: 10, refillPerSecond: 2 };
    const limiter = new ClockTokenBucketLimiter(
      effectiveBuckets({ overrides: { DescribeSubnets: bucket } }, false),
      clock,
    );
    expect(limiter.tokens('DescribeSubnets')).toBe(10);
    limiter.throttled('DescribeSubnets');
    expect(limiter.tokens('DescribeSubnets')).toBe(0);
    const starts: number[] = [];
    for (let i = 0; i < 4; i++) {
      void limiter.schedule('DescribeSubnets', () => Promise.resolve(starts.push(clock.now())));
    }
    const t0 = clock.now();
    await clock.runUntil(() => starts.length === 4, 10_000);
    expect(starts.map((t) => t - t0)).toEqual([500, 1000, 1500, 2000]);
  });

  it('reports queue length and tokens to the observer', async () => {
    const clock = new ManualClock();
    const samples: LimiterSample[] = [];
    const limiter = new ClockTokenBucketLimiter(
      effectiveBuckets({ overrides: { DeleteNetworkInterface: { size: 1, refillPerSecond: 1 } } }, false),
      clock,
      { onCall: () => undefined, onLimiter: (s) => samples.push(s) },
    );
    void limiter.schedule('DeleteNetworkInterface', () => Promise.resolve());
    void limiter.schedule('DeleteNetworkInterface', () => Promise.resolve());
    await clock.advance(0);
    expect(samples.at(-1)).toEqual({ api: 'DeleteNetworkInterface', queued: 1, tokens: 0 });
    await clock.advance(1000);
    expect(samples.at(-1)).toEqual({ api: 'DeleteNetworkInterface', queued: 0, tokens: 0 });
  });

  it('rejects work after close and leaves no timer behind', async () => {
    const clock = new ManualClock();
    const limiter = new ClockTokenBucketLimiter(
      effectiveBuckets({ overrides: { DescribeVpcs: { size: 1, refillPerSecond: 1 } } }, false),
      clock,
    );
    void limiter.schedule('DescribeVpcs', () => Promise.resolve());
    void limiter.schedule('DescribeVpcs', () => Promise.resolve()).catch(() => undefined);
    await clock.advance(0);
    await limiter.close();
    expect(clock.pendingTimers()).toBe(0);
    await expect(limiter.schedule('DescribeVpcs', () => Promise.resolve())).rejects.toThrow(/closed/);
  });
});

describe('rate limits', () => {
  it('scale every account bucket by the share, never below one token', () => {
    // A node alone: half the account's burst, a tenth of its refill.
    const node = effectiveBuckets({}, false);
    expect(node.AssignPrivateIpAddresses).toEqual({ size: 50, refillPerSecond: 0.5 });
    expect(node.AttachNetworkInterface).toEqual({ size: 25, refillPerSecond: 0.5 });
    expect(node.DescribeNetworkInterfaces).toEqual({ size: 50, refillPerSecond: 2 });
    // An explicit share applies to both.
    expect(effectiveBuckets({ share: 0.1 }, false).AttachNetworkInterface).toEqual({
      size: 5,
      refillPerSecond: 0.5,
    });
    // The cluster's shared budget: EC2's own bucket for each API.
    const cluster = effectiveBuckets({}, true);
    expect(cluster.CreateNetworkInterface).toEqual({ size: 100, refillPerSecond: 5 });
    expect(cluster.AttachNetworkInterface).toEqual({ size: 50, refillPerSecond: 5 });
    const tiny = effectiveBuckets({ share: 0.001 }, false);
    expect(tiny.AttachNetworkInterface.size).toBe(1);
    expect(() => effectiveBuckets({ share: 0 }, false)).toThrow(/share/);
    expect(() => effectiveBuckets({ share: 1.5 }, false)).toThrow(/share/);
  });

  it('apply per-family shares over the default, and absolute overrides over both', () => {
    const buckets = effectiveBuckets(
      {
        share: 0.2,
        familyShares: { attach: 0.5 },
        overrides: { DescribeSubnets: { size: 7, refillPerSecond: 3 } },
      },
      false,
    );
    expect(buckets.AttachNetworkInterface).toEqual({ size: 25, refillPerSecond: 2.5 });
    expect(buckets.DetachNetworkInterface).toEqual({ size: 25, refillPerSecond: 2.5 });
    expect(buckets.AssignPrivateIpAddresses).toEqual({ size: 20, refillPerSecond: 1 });
    expect(buckets.DescribeSubnets).toEqual({ size: 7, refillPerSecond: 3 });
    expect(() => effectiveBuckets({ familyShares: { mutate: 2 } }, false)).toThrow(/CreateNetworkInterface/);
  });

  it('have a bucket for every API the provider calls', () => {
    for (const api of EC2_APIS) expect(ACCOUNT_BUCKETS[api].size).toBeGreaterThan(0);
  });

  it.each([
    [
      { size: 100, refillPerSecond: 20 },
      { intervalMs: 250, amount: 5 },
    ],
    [
      { size: 10, refillPerSecond: 2 },
      { intervalMs: 500, amount: 1 },
    ],
    [
      { size: 10, refillPerSecond: 0.5 },
      { intervalMs: 2000, amount: 1 },
    ],
    [
      { size: 50, refillPerSecond: 2.5 },
      { intervalMs: 2000, amount: 5 },
    ],
    [
      { size: 5, refillPerSecond: 4 },
      { intervalMs: 250, amount: 1 },
    ],
  ])('bottleneck refill schedule for %o is %o', (bucket, expected) => {
    expect(refillSchedule(bucket)).toEqual(expected);
  });
});

describe('BottleneckLimiter (local) with fake timers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never exceeds the bucket and sustains the refill rate within 5 %', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const bucket: TokenBucket = { size: 10, refillPerSecond: 4 };
    const limiter = new BottleneckLimiter({
      buckets: effectiveBuckets({ overrides: { DescribeSubnets: bucket } }, false),
    });
    const starts: number[] = [];
    const total = 90;
    const done = Array.from({ length: total }, () =>
      limiter.schedule('DescribeSubnets', () => {
        starts.push(Date.now());
        return Promise.resolve();
      }),
    );
    for (let i = 0; i < 200 && starts.length < total; i++) await vi.advanceTimersByTimeAsync(250);
    await Promise.all(done);
    // bottleneck's disconnect yields through setTimeout: let it run on real time.
    vi.useRealTimers();
    await limiter.close();

    expect(starts).toHaveLength(total);
    // bottleneck adds a whole step (one token per 250 ms here) at a time: one token of slack.
    expect(worstBucketExcess(starts, bucket, refillSchedule(bucket).amount)).toBeLessThanOrEqual(1e-6);
    const rate = sustainedRate(starts, bucket);
    expect(Math.abs(rate - bucket.refillPerSecond) / bucket.refillPerSecond).toBeLessThan(0.05);
  });

  it('keeps refilling after throttled(): a throttle slows the API, it never stops it', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const bucket: TokenBucket = { size: 10, refillPerSecond: 4 };
    const limiter = new BottleneckLimiter({
      buckets: effectiveBuckets({ overrides: { DescribeSubnets: bucket } }, false),
    });
    // bottleneck yields through timers: advance them while its work is pending.
    const first = limiter.schedule('DescribeSubnets', () => Promise.resolve());
    await vi.advanceTimersByTimeAsync(10);
    await first;
    limiter.throttled('DescribeSubnets');
    await vi.advanceTimersByTimeAsync(10);
    let ran = 0;
    const after = Array.from({ length: 8 }, () =>
      limiter.schedule('DescribeSubnets', () => {
        ran++;
        return Promise.resolve();
      }),
    );
    await vi.advanceTimersByTimeAsync(250);
    // The bucket was emptied: at most the one token a 250 ms step adds.
    expect(ran).toBeLessThanOrEqual(1);
    for (let i = 0; i < 20 && ran < after.length; i++) await vi.advanceTimersByTimeAsync(250);
    // 8 calls at 4 per second after an empty bucket: all ran within about 2 s (5 s allowed).
    expect(ran).toBe(8);
    await Promise.all(after);
    vi.useRealTimers();
    await limiter.close();
  });
});

describe('demand first and the adaptive rate', () => {
  const oneBySecond = effectiveBuckets(
    { overrides: { AssignPrivateIpAddresses: { size: 1, refillPerSecond: 1 } } },
    false,
  );

  it('starts calls that serve waiting ADDs before queued warm-pool calls', async () => {
    const clock = new ManualClock();
    const limiter = new ClockTokenBucketLimiter(oneBySecond, clock);
    const ran: string[] = [];
    const call = (name: string) => () => Promise.resolve(void ran.push(name));
    void limiter.schedule('AssignPrivateIpAddresses', call('warm-1'), 'warm');
    void limiter.schedule('AssignPrivateIpAddresses', call('warm-2'), 'warm');
    void limiter.schedule('AssignPrivateIpAddresses', call('warm-3'), 'warm');
    void limiter.schedule('AssignPrivateIpAddresses', call('demand-1'), 'demand');
    await clock.advance(2_000);
    void limiter.schedule('AssignPrivateIpAddresses', call('demand-2'), 'demand');
    await clock.advance(3_000);
    expect(ran).toEqual(['warm-1', 'demand-1', 'warm-2', 'demand-2', 'warm-3']);
  });

  it('moves a queued warm-up ahead of other warm-ups once pods wait for it', async () => {
    const clock = new ManualClock();
    const limiter = new ClockTokenBucketLimiter(oneBySecond, clock);
    const ran: string[] = [];
    const call = (name: string) => () => Promise.resolve(void ran.push(name));
    let podsWaitOnMine = false;
    void limiter.schedule('AssignPrivateIpAddresses', call('other-1'), 'warm');
    void limiter.schedule('AssignPrivateIpAddresses', call('other-2'), 'warm');
    void limiter.schedule('AssignPrivateIpAddresses', call('mine'), () =>
      podsWaitOnMine ? 'demand' : 'warm',
    );
    void limiter.schedule('AssignPrivateIpAddresses', call('other-3'), 'warm');
    await clock.advance(0);
    podsWaitOnMine = true;
    await clock.advance(3_000);
    expect(ran).toEqual(['other-1', 'mine', 'other-2', 'other-3']);
  });

  it('moves a warm-up that pods now wait for ahead of demand queued after that (one budget for many nodes)', async () => {
    const clock = new ManualClock();
    const limiter = new ClockTokenBucketLimiter(oneBySecond, clock);
    const ran: string[] = [];
    const call = (name: string) => () => Promise.resolve(void ran.push(name));
    let podsWaitOnMine = false;
    void limiter.schedule('AssignPrivateIpAddresses', call('first'), 'demand');
    void limiter.schedule('AssignPrivateIpAddresses', call('mine'), () =>
      podsWaitOnMine ? 'demand' : 'warm',
    );
    // Other nodes' pods keep waiting, one more every second: the demand queue is never empty.
    for (let i = 1; i <= 6; i++) {
      await clock.advance(500);
      void limiter.schedule('AssignPrivateIpAddresses', call(`other-${i}`), 'demand');
      if (i === 2) podsWaitOnMine = true;
      await clock.advance(500);
    }
    await clock.advance(5_000);
    // Once pods wait for it, it queues as demand from then on, not behind all demand to come.
    expect(ran).toEqual(['first', 'other-1', 'other-2', 'mine', 'other-3', 'other-4', 'other-5', 'other-6']);
  });

  it('takes the priority from withCallPriority across awaits, demand by default', async () => {
    const clock = new ManualClock();
    const limiter = new ClockTokenBucketLimiter(oneBySecond, clock);
    const ran: string[] = [];
    const assign = (name: string) =>
      limiter.schedule('AssignPrivateIpAddresses', () => Promise.resolve(void ran.push(name)));
    void assign('first');
    void withCallPriority('warm', async () => {
      await Promise.resolve();
      await assign('warm');
    });
    await Promise.resolve();
    void assign('unmarked');
    await clock.advance(3_000);
    expect(ran).toEqual(['first', 'unmarked', 'warm']);
  });

  it('slows an API down after RequestLimitExceeded and recovers as EC2 answers again', async () => {
    const clock = new ManualClock();
    const bucket: TokenBucket = { size: 10, refillPerSecond: 4 };
    const limiter = new ClockTokenBucketLimiter(
      effectiveBuckets({ overrides: { CreateNetworkInterface: bucket } }, false),
      clock,
      {
        adaptive: true,
        random: () => 0.5,
      },
    );
    expect(limiter.currentRate('CreateNetworkInterface')).toBe(4);
    limiter.throttled('CreateNetworkInterface');
    expect(limiter.currentRate('CreateNetworkInterface')).toBe(4 * THROTTLE_DECREASE);
    // A second throttle reporting the same dry moment (a call already in flight) counts once.
    limiter.throttled('CreateNetworkInterface');
    expect(limiter.currentRate('CreateNetworkInterface')).toBe(4 * THROTTLE_DECREASE);
    await clock.advance(1_000);
    limiter.throttled('CreateNetworkInterface');
    expect(limiter.currentRate('CreateNetworkInterface')).toBe(4 * THROTTLE_DECREASE ** 2);

    // Calls now start one per 1/rate s, with no burst.
    const slowed = 4 * THROTTLE_DECREASE ** 2;
    const starts: number[] = [];
    const done = Array.from({ length: 3 }, () =>
      limiter.schedule('CreateNetworkInterface', () => Promise.resolve(void starts.push(clock.now()))),
    );
    const t0 = clock.now();
    await clock.runUntil(() => starts.length === 3, 60_000);
    await Promise.all(done);
    // The first after 1/rate s; then faster, as the answers bring the rate back.
    const [first = 0, second = 0, third = 0] = starts.map((t) => t - t0);
    expect(first).toBe(1_000 / slowed);
    expect(third - second).toBeLessThan(second - first);
    // Every answered call earns back RECOVERY_STEP of the configured rate.
    expect(limiter.currentRate('CreateNetworkInterface')).toBeCloseTo(slowed + 3 * 4 * RECOVERY_STEP);
    let answered = 0;
    for (let i = 0; i < 40; i++)
      void limiter.schedule('CreateNetworkInterface', () => Promise.resolve()).then(() => answered++);
    await clock.runUntil(() => answered === 40, 600_000);
    expect(limiter.currentRate('CreateNetworkInterface')).toBe(4);
  });

  it('never falls below one call per MIN_INTERVAL_MS however often it is throttled', async () => {
    const clock = new ManualClock();
    const limiter = new ClockTokenBucketLimiter(effectiveBuckets({ share: 1 }, false), clock, {
      adaptive: true,
      random: () => 0.5,
    });
    for (let i = 0; i < 50; i++) {
      limiter.throttled('AttachNetworkInterface');
      await clock.advance(MIN_INTERVAL_MS);
    }
    expect(limiter.currentRate('AttachNetworkInterface')).toBeCloseTo(1000 / MIN_INTERVAL_MS);
  });
});

describe('limiter choice and lifecycle', () => {
  it("picks the node's adaptive Clock bucket on simulated and real time, the shared budget with Redis", async () => {
    const simulated = chooseLimiter({ region: 'us-east-1' }, new ManualClock(), noopObserver);
    const real = chooseLimiter({ region: 'us-east-1' }, systemClock, noopObserver);
    const shared = chooseLimiter(
      { region: 'us-east-1', redisUrl: 'redis://127.0.0.1:1' },
      new ManualClock(),
      noopObserver,
    );
    expect(simulated).toBeInstanceOf(ClockTokenBucketLimiter);
    expect(real).toBeInstanceOf(ClockTokenBucketLimiter);
    expect(shared).toBeInstanceOf(SharedBudgetLimiter);
    // Nothing was connected: closing an unused Redis limiter is immediate and error-free.
    await Promise.all([simulated.close(), real.close(), shared.close()]);
  });
});

describe('nodes that start together (contenders)', () => {
  /** Calls the account's bucket would have refused: EC2's token bucket replayed over the starts. */
  function refusedByAccount(startsMs: readonly number[], bucket: TokenBucket): number {
    let tokens = bucket.size;
    let last = 0;
    let refused = 0;
    for (const t of [...startsMs].sort((a, b) => a - b)) {
      tokens = Math.min(bucket.size, tokens + ((t - last) * bucket.refillPerSecond) / 1000);
      last = t;
      if (tokens >= 1 - 1e-9) tokens -= 1;
      else refused++;
    }
    return refused;
  }

  /** `nodes` limiters, each told `contenders` nodes share the account, each making one Create at t = 0. */
  async function firstCalls(nodes: number, contenders: number): Promise<number[]> {
    const clock = new ManualClock();
    let seed = 15;
    // A small deterministic generator: each node its own draws, as the simulator seeds them.
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const starts: number[] = [];
    const limiters = Array.from(
      { length: nodes },
      () =>
        new ClockTokenBucketLimiter(effectiveBuckets({}, false), clock, {
          adaptive: true,
          random,
          contenders: () => ({ recent: contenders, settled: 0 }),
        }),
    );
    const origin = clock.now();
    const done = limiters.map((limiter) =>
      limiter.schedule('CreateNetworkInterface', () => {
        starts.push(clock.now() - origin);
        return Promise.resolve();
      }),
    );
    expect(await clock.runUntil(() => starts.length === nodes, 30 * 60_000)).toBe(true);
    await Promise.all(done);
    await Promise.all(limiters.map((l) => l.close()));
    return starts;
  }

  it('spread their first calls over the time the account bucket takes to pass them, instead of meeting it dry at t = 0', async () => {
    const account = ACCOUNT_BUCKETS.CreateNetworkInterface; // 100 at once, then 5 per s
    const alone = await firstCalls(500, 1);
    expect(alone.every((t) => t === 0)).toBe(true);
    expect(refusedByAccount(alone, account)).toBe(400);

    const together = await firstCalls(500, 500);
    // At the start of a scale-up no node is settled: the 500 divide by 1.15 (contenders.ts). About
    // 100 / 435 of a token each at most, so some 90 at once, the rest at 1.15 x the refill rate:
    // (500 - 90) / 5.75 = 71 s (the waits' jitter, x 0.5 to 1.5, stretches the tail).
    expect(together.filter((t) => t === 0).length).toBeGreaterThan(60);
    expect(together.filter((t) => t === 0).length).toBeLessThan(130);
    expect(Math.max(...together)).toBeLessThan(150_000);
    // A lone API of every node at once is the worst case for the oversubscription; still a fraction
    // of the 400 refused without the spread.
    expect(refusedByAccount(together, account)).toBeLessThan(150);
  });

  it("let an ENI's attach follow its create without a fresh wait, while another API's first call waits for its share", async () => {
    const clock = new ManualClock();
    const origin = clock.now();
    const limiter = new ClockTokenBucketLimiter(effectiveBuckets({}, false), clock, {
      adaptive: true,
      // Every draw 0: each bucket starts empty, and waits carry no jitter.
      random: () => 0,
      // 1,000 nodes' shares after the oversubscription (1,150 / 1.15).
      contenders: () => ({ recent: 1150, settled: 0 }),
    });
    const startedAt = async (api: 'AttachNetworkInterface' | 'DescribeInstances'): Promise<number> => {
      let at: number | undefined;
      const done = limiter.schedule(api, () => {
        at = clock.now() - origin;
        return Promise.resolve();
      });
      await clock.runUntil(() => at !== undefined, 30 * 60_000);
      await done;
      return at ?? NaN;
    };
    // A create took its share's wait: 1,000 nodes' share of 5 per s is one call per 200 s.
    await clock.advance(200_000);
    expect(await startedAt('AttachNetworkInterface')).toBe(200_000);
    // DescribeInstances (20 per s) is first called now: its share starts empty here, one call per 50 s.
    expect(await startedAt('DescribeInstances')).toBe(250_000);
    await limiter.close();
  });

  it('never give a node more than its own bucket, and at least one call', () => {
    const own = effectiveBuckets({}, false).CreateNetworkInterface; // 50 at once, 0.5 per s
    const account = ACCOUNT_BUCKETS.CreateNetworkInterface;
    expect(contenderShare(own, account, 1)).toEqual(own);
    // Shared among that many nodes.
    const close = (bucket: TokenBucket): TokenBucket => ({
      size: Number(bucket.size.toFixed(6)),
      refillPerSecond: Number(bucket.refillPerSecond.toFixed(6)),
    });
    expect(close(contenderShare(own, account, 4))).toEqual({ size: 25, refillPerSecond: 0.5 });
    expect(close(contenderShare(own, account, 1000))).toEqual({ size: 1, refillPerSecond: 0.005 });
    expect(contenderShare(own, account, 0)).toEqual(own);
    expect(contenderStartTokens(own, account, 1, () => 0.99)).toBe(50);
    expect(contenderStartTokens(own, account, 1000, () => 0.5)).toBeCloseTo(0.55);
  });

  /** One node's limiter among 1,000 nodes' shares (1,150 / 1.15): Create's share is one call per 200 s. */
  function contender(
    draw = 0,
    count: () => ContenderCount = () => ({ recent: 1150, settled: 0 }),
  ): { clock: ManualClock; limiter: ClockTokenBucketLimiter; origin: number } {
    const clock = new ManualClock();
    const limiter = new ClockTokenBucketLimiter(effectiveBuckets({}, false), clock, {
      adaptive: true,
      random: () => draw,
      contenders: count,
    });
    return { clock, limiter, origin: clock.now() };
  }

  it('shorten a wait for a token when nodes finish their warm-up and the share grows', async () => {
    let count: ContenderCount = { recent: 1150, settled: 0 };
    // A draw of 0.5: the bucket starts with half a token (of 1 + 100 / 1,000), the wait no jitter.
    const { clock, limiter, origin } = contender(0.5, () => count);
    let startedAt: number | undefined;
    const done = limiter.schedule('CreateNetworkInterface', () =>
      Promise.resolve(void (startedAt = clock.now() - origin)),
    );
    // At one call per 200 s the missing 0.45 of a token takes 90 s.
    await clock.advance(30_000);
    expect(startedAt).toBeUndefined();
    // 1,050 nodes are done: 100 still working over 1.56 share the bucket, one call per 12.5 s.
    count = { recent: 1150, settled: 1050 };
    await clock.runUntil(() => startedAt !== undefined, 30 * 60_000);
    await done;
    // What was left (0.3 of a token, 60 s at the old share) takes about 4 s at the new one, found
    // at the next look (SHARE_RECHECK_MS), instead of the 60 s drawn at the old share.
    expect(startedAt).toBeGreaterThan(30_000);
    expect(startedAt).toBeLessThanOrEqual(30_000 + SHARE_RECHECK_MS + 5_000);
    await limiter.close();
  });

  it('let a call EC2 refused keep its turn: its retry waits a hold, not another share', async () => {
    const { clock, limiter, origin } = contender(0.5);
    const starts: number[] = [];
    const create = (): Promise<void> =>
      limiter.schedule('CreateNetworkInterface', () =>
        Promise.resolve(void starts.push(clock.now() - origin)),
      );
    const first = create();
    await clock.runUntil(() => starts.length === 1, 30 * 60_000);
    await first;
    const turn = starts[0] ?? NaN;
    // The start tokens (0.5 of 1 + 100 / 1,000) and one share's wait for the rest: within the share.
    expect(turn).toBeGreaterThan(0);
    expect(turn).toBeLessThanOrEqual(200_000);
    limiter.throttled('CreateNetworkInterface');
    const retry = create();
    await clock.runUntil(() => starts.length === 2, 30 * 60_000);
    await retry;
    const shareMs = 200_000;
    expect((starts[1] ?? NaN) - turn).toBeLessThanOrEqual(
      throttleHoldMs('CreateNetworkInterface', 1, shareMs),
    );
    // Without the token back it would have waited a whole share again.
    expect((starts[1] ?? NaN) - turn).toBeLessThan(shareMs / 2);
    await limiter.close();
  });

  it("after a refusal let demand go first across the cluster: the node's warm calls of that API step aside for about a share", async () => {
    const { clock, limiter, origin } = contender(0.5);
    const ran: { name: string; at: number }[] = [];
    const call = (name: string) => () => Promise.resolve(void ran.push({ name, at: clock.now() - origin }));
    // Let the share fill up (200 s for one Create), then EC2 refuses one.
    await clock.advance(400_000);
    limiter.throttled('CreateNetworkInterface');
    const refusedAt = clock.now() - origin;
    const warm = limiter.schedule('CreateNetworkInterface', call('warm'), 'warm');
    const demand = limiter.schedule('CreateNetworkInterface', call('demand'), 'demand');
    await clock.runUntil(() => ran.length === 2, 30 * 60_000);
    await Promise.all([warm, demand]);
    expect(ran.map((r) => r.name)).toEqual(['demand', 'warm']);
    expect((ran[0]?.at ?? NaN) - refusedAt).toBeLessThan(60_000);
    // The warm call waits at least half a share after the refusal (a draw of 0.5: one whole share).
    expect((ran[1]?.at ?? NaN) - refusedAt).toBeGreaterThanOrEqual(200_000);
    await limiter.close();
  });

  it('after a refused attach hold back warm creates, whose attaches would meet the same dry bucket', async () => {
    const { clock, limiter, origin } = contender(0.5);
    await clock.advance(400_000);
    limiter.throttled('AttachNetworkInterface');
    const refusedAt = clock.now() - origin;
    let warmCreateAt: number | undefined;
    const done = limiter.schedule(
      'CreateNetworkInterface',
      () => Promise.resolve(void (warmCreateAt = clock.now() - origin)),
      'warm',
    );
    await clock.runUntil(() => warmCreateAt !== undefined, 30 * 60_000);
    await done;
    // Attach's share among 1,000 nodes is one call per 200 s too.
    expect((warmCreateAt ?? NaN) - refusedAt).toBeGreaterThanOrEqual(200_000);
    await limiter.close();
  });

  it('hold a refused API for a while that grows with refusals in a row, never beyond one share', () => {
    // api, refusals in a row, share (ms) -> longest hold (ms): mutations from half a share, doubling;
    // Describe calls a whole share; never shorter than the time the account's bucket refills its burst.
    const table: [Parameters<typeof throttleHoldMs>[0], number, number][] = [
      ['CreateNetworkInterface', 1, 200_000],
      ['CreateNetworkInterface', 2, 200_000],
      ['CreateNetworkInterface', 9, 200_000],
      ['AttachNetworkInterface', 1, 200_000],
      ['DescribeSubnets', 1, 50_000],
      ['DescribeSubnets', 9, 50_000],
      ['CreateNetworkInterface', 1, 2_000],
    ];
    const holds = table.map(([api, refused, share]) => throttleHoldMs(api, refused, share));
    expect(holds).toEqual([100_000, 200_000, 200_000, 100_000, 50_000, 50_000, 10_000]);
  });
});
