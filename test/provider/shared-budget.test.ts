import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BottleneckLimiter, refillSchedule } from '../../provider/bottleneck-limiter.js';
import { ClockTokenBucketLimiter } from '../../provider/limiter.js';
import { effectiveBuckets, type TokenBucket } from '../../provider/rate-limits.js';
import { demandReserve, SharedBudgetLimiter, warmCallsAllowed } from '../../provider/shared-budget.js';
import { systemClock } from '../../time/clock.js';
import { startRedis, type RedisPeer } from '../peers/redis.js';
import { sustainedRate, worstBucketExcess } from './limiter-rate.js';

/** Fails (never skips) when Debian's redis-server is missing: a skipped budget test proves nothing. */
function requireRedisServer(): void {
  const found = (process.env['PATH'] ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, 'redis-server'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found)
    throw new Error("redis-server not found: install Debian's redis-server (test/peers/install.sh does)");
}

/**
 * One redis-server for every case of the file: each case keeps its buckets under a clusterId of
 * its own (the key prefix in Redis), so no case sees another's tokens and nothing needs flushing.
 */
let redis: RedisPeer | undefined;

beforeAll(async () => {
  requireRedisServer();
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

describe('BottleneckLimiter shared through a real Redis', () => {
  it('several nodes with their own Redis clients spend ONE bucket together', async () => {
    const url = redis!.url;
    // A bucket small and fast enough for a test of a few seconds; every node is allowed all of it.
    const bucket: TokenBucket = { size: 5, refillPerSecond: 20 };
    const buckets = effectiveBuckets({ overrides: { DescribeSubnets: bucket } }, true);
    const clusterId = `test-${process.pid}-${Date.now()}`;
    const nodes = Array.from(
      { length: 3 },
      () => new BottleneckLimiter({ buckets, redisUrl: url, clusterId }),
    );
    const perNode = 20;
    const starts: number[] = [];
    const ranBy = [0, 0, 0];
    try {
      await Promise.all(
        nodes.flatMap((node, n) =>
          Array.from({ length: perNode }, () =>
            node.schedule('DescribeSubnets', () => {
              starts.push(Date.now());
              ranBy[n]! += 1;
              return Promise.resolve();
            }),
          ),
        ),
      );
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
    }

    expect(starts).toHaveLength(3 * perNode);
    expect(ranBy.every((count) => count > 0)).toBe(true);
    // Refill arrives in steps of `amount` tokens; one more token covers the gap between Redis
    // granting a token and the node's callback stamping the time.
    const slack = refillSchedule(bucket).amount + 1;
    expect(worstBucketExcess(starts, bucket, slack)).toBeLessThanOrEqual(0);
    // Three independent limiters would sustain 60/s; together they stay at the bucket's 20/s.
    expect(sustainedRate(starts, bucket)).toBeLessThanOrEqual(bucket.refillPerSecond * 1.05);
    expect(sustainedRate(starts, bucket)).toBeGreaterThan(bucket.refillPerSecond * 0.5);
  });

  it('throttled() by one node empties the bucket for all of them', async () => {
    const url = redis!.url;
    const bucket: TokenBucket = { size: 10, refillPerSecond: 4 };
    const buckets = effectiveBuckets({ overrides: { DescribeVpcs: bucket } }, true);
    const clusterId = `test-drain-${process.pid}-${Date.now()}`;
    const [a, b] = [
      new BottleneckLimiter({ buckets, redisUrl: url, clusterId }),
      new BottleneckLimiter({ buckets, redisUrl: url, clusterId }),
    ];
    try {
      await a.schedule('DescribeVpcs', () => Promise.resolve());
      a.throttled('DescribeVpcs');
      const before = Date.now();
      // Without the drain b would find 9 tokens and run all three at once.
      const stamps: number[] = [];
      await Promise.all(
        [0, 1, 2].map(() => b.schedule('DescribeVpcs', () => Promise.resolve(stamps.push(Date.now())))),
      );
      expect(Math.max(...stamps) - before).toBeGreaterThanOrEqual(400);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('the demand reserve of the shared budget', () => {
  it.each<[string, TokenBucket, number, number]>([
    ['a full ENI-mutation bucket keeps 20 of its 100 for demand', { size: 100, refillPerSecond: 5 }, 100, 80],
    ['the Attach bucket keeps 10 of its 50', { size: 50, refillPerSecond: 5 }, 50, 40],
    ['a bucket down to its reserve lets no warm-up start', { size: 100, refillPerSecond: 5 }, 20, 0],
    ['one token above the reserve lets one start', { size: 100, refillPerSecond: 5 }, 21.4, 1],
    [
      'a refill that lands a hair under a token counts as the token',
      { size: 50, refillPerSecond: 5 },
      10.9999999999,
      1,
    ],
    ['a small bucket keeps at least one token', { size: 3, refillPerSecond: 1 }, 3, 2],
    ['an empty bucket', { size: 10, refillPerSecond: 1 }, 0, 0],
  ])('%s', (_what, bucket, tokens, allowed) => {
    expect(warmCallsAllowed(tokens, bucket)).toBe(allowed);
    expect(demandReserve(bucket)).toBeGreaterThanOrEqual(1);
  });
});

describe('SharedBudgetLimiter: demand first across nodes (real redis-server)', () => {
  async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it("keeps part of the bucket for another node's pods while a node's warm-up drains it", async () => {
    // A bucket of 10 refilled at 2 a second: its reserve for demand is 2 tokens.
    const bucket: TokenBucket = { size: 10, refillPerSecond: 2 };
    const clusterId = `reserve-${process.pid}-${Date.now()}`;
    const node = () =>
      new SharedBudgetLimiter({
        redisUrl: redis!.url,
        clusterId,
        buckets: effectiveBuckets({ overrides: { CreateNetworkInterface: bucket } }, true),
        local: new ClockTokenBucketLimiter(effectiveBuckets({}, false), systemClock),
        clock: systemClock,
        probeIntervalMs: 200,
      });
    const [warming, serving] = [node(), node()];
    try {
      // Connect both to the shared budget (the first call of each starts it).
      await warming.schedule('DescribeVpcs', () => Promise.resolve(), 'demand');
      await serving.schedule('DescribeVpcs', () => Promise.resolve(), 'demand');
      await until(() => warming.currentState() === 'shared' && serving.currentState() === 'shared');

      let warmStarted = 0;
      const warmUps = Array.from({ length: 12 }, () =>
        warming.schedule('CreateNetworkInterface', () => Promise.resolve((warmStarted += 1)), 'warm'),
      );
      await until(() => warmStarted >= bucket.size - demandReserve(bucket));
      // The warm-up spent the bucket down to its reserve (a refill step may have added one), not to
      // the last token.
      expect(warmStarted).toBeLessThan(bucket.size);

      const asked = Date.now();
      await serving.schedule('CreateNetworkInterface', () => Promise.resolve(), 'demand');
      // The pod's call found a reserved token at once instead of queueing for the next refill.
      expect(Date.now() - asked).toBeLessThan(400);
      expect(warmStarted).toBeLessThan(12);

      // The warm-up still completes, at the bucket's refill rate.
      await Promise.all(warmUps);
      expect(warmStarted).toBe(12);
    } finally {
      await Promise.all([warming.close(), serving.close()]);
    }
  });
});
