import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../time/clock.js';
import { ClockTokenBucketLimiter } from '../../provider/limiter.js';
import type { SharedBudgetChange } from '../../provider/observer.js';
import { effectiveBuckets } from '../../provider/rate-limits.js';
import { SharedBudgetLimiter } from '../../provider/shared-budget.js';
import { freeLoopbackPort } from '../peers/process.js';
import { startRedis, type RedisPeer } from '../peers/redis.js';

/** Fails (never skips) when Debian's redis-server is missing. */
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

const PROBE_MS = 100;

/** A node's shared-budget limiter against `port`, recording what it reports. */
function node(port: number) {
  const changes: SharedBudgetChange[] = [];
  const limiter = new SharedBudgetLimiter({
    redisUrl: `redis://127.0.0.1:${port}`,
    clusterId: `outage-${process.pid}-${port}`,
    buckets: effectiveBuckets({}, true),
    local: new ClockTokenBucketLimiter(effectiveBuckets({}, false), systemClock, { adaptive: true }),
    clock: systemClock,
    observer: { onCall: () => undefined, onLimiter: () => undefined, onSharedBudget: (c) => changes.push(c) },
    probeIntervalMs: PROBE_MS,
    redisTimeoutMs: 300,
  });
  /** One EC2 call's worth of work through the limiter; resolves with the time it took. */
  const call = async (): Promise<number> => {
    const started = Date.now();
    await limiter.schedule('DescribeSubnets', () => Promise.resolve('answered'));
    return Date.now() - started;
  };
  return { limiter, changes, call };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The budget's keys in Redis: bottleneck's settings hashes of our limiters. */
async function budgetKeys(url: string): Promise<string[]> {
  const client = new Redis(url);
  try {
    return await client.keys('b_eni-ipam:ec2:*_settings');
  } finally {
    client.disconnect();
  }
}

describe('the shared EC2 budget survives Redis (real redis-server)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  it("serves calls from the node's own limiter while Redis is down at start, then shares the budget once it is up", async () => {
    requireRedisServer();
    const port = await freeLoopbackPort();
    const n = node(port);
    cleanups.push(() => n.limiter.close());

    // Nothing listens: calls still complete, promptly.
    const waited = await Promise.all(Array.from({ length: 5 }, () => n.call()));
    expect(Math.max(...waited)).toBeLessThan(2_000);
    await until(() => n.limiter.currentState() === 'degraded');
    expect(n.changes).toEqual([
      { state: 'degraded', reason: expect.stringContaining('not reachable') as string },
    ]);

    const redis = await startRedis(port);
    cleanups.push(() => redis.stop());
    await until(() => n.limiter.currentState() === 'shared');
    await n.call();
    expect(await budgetKeys(redis.url)).toContain(
      `b_eni-ipam:ec2:outage-${process.pid}-${port}:DescribeSubnets_settings`,
    );
    expect(n.changes.map((c) => c.state)).toEqual(['degraded', 'shared']);
  });

  it('degrades once when Redis is killed mid-run and resumes by itself when it restarts empty', async () => {
    requireRedisServer();
    let redis: RedisPeer = await startRedis();
    const port = redis.port;
    cleanups.push(() => redis.stop());
    const n = node(port);
    cleanups.push(() => n.limiter.close());
    await n.call();
    await until(() => n.limiter.currentState() === 'shared');
    await n.call();

    await redis.stop();
    // Every call during the outage completes (locally); the outage is reported once, not per call.
    const during = await Promise.all(Array.from({ length: 20 }, () => n.call()));
    expect(Math.max(...during)).toBeLessThan(3_000);
    await until(() => n.limiter.currentState() === 'degraded');
    expect(n.changes.filter((c) => c.state === 'degraded')).toHaveLength(1);

    redis = await startRedis(port);
    await until(() => n.limiter.currentState() === 'shared');
    await n.call();
    expect(await budgetKeys(redis.url)).not.toEqual([]);
    expect(n.changes.map((c) => c.state)).toEqual(['shared', 'degraded', 'shared']);
  });

  it('recovers from a Redis that lost the budget\'s keys behind its back (Redis 7\'s "ERR SETTINGS_KEY_NOT_FOUND")', async () => {
    requireRedisServer();
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const n = node(redis.port);
    cleanups.push(() => n.limiter.close());
    await n.call();
    await until(() => n.limiter.currentState() === 'shared');
    await n.call();

    // A restart between two probes looks exactly like this: the same address, no keys.
    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();

    // bottleneck alone would fail this call and every later one; here it is served, and the
    // budget comes back with its keys re-created.
    expect(await n.call()).toBeLessThan(2_000);
    await until(() => n.changes.some((c) => c.state === 'degraded'));
    await until(() => n.limiter.currentState() === 'shared');
    await n.call();
    expect(await budgetKeys(redis.url)).not.toEqual([]);
  });

  it('does not let a slow Redis hold calls: they go local, and come back to the budget when it is fast again', async () => {
    requireRedisServer();
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const n = node(redis.port);
    cleanups.push(() => n.limiter.close());
    await n.call();
    await until(() => n.limiter.currentState() === 'shared');

    const admin = new Redis(redis.url);
    cleanups.push(() => {
      admin.disconnect();
      return Promise.resolve();
    });
    // Every other client's commands wait 3 s (CLIENT PAUSE): far beyond the 300 ms Redis timeout.
    await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
    const waited = await Promise.all(Array.from({ length: 5 }, () => n.call()));
    expect(Math.max(...waited)).toBeLessThan(2_000);
    expect(n.limiter.currentState()).toBe('degraded');

    await until(() => n.limiter.currentState() === 'shared', 15_000);
    expect(n.changes.map((c) => c.state)).toEqual(['shared', 'degraded', 'shared']);
  });
});
