import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BottleneckLimiter, refillSchedule } from '../../provider/bottleneck-limiter.js';
import { effectiveBuckets, type TokenBucket } from '../../provider/rate-limits.js';
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

describe('BottleneckLimiter shared through a real Redis', () => {
  let redis: RedisPeer | undefined;

  beforeAll(async () => {
    requireRedisServer();
    redis = await startRedis();
  });

  afterAll(async () => {
    await redis?.stop();
  });

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
