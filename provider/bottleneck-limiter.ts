import Bottleneck from 'bottleneck';
import type { Redis as RedisClient } from 'ioredis';
import {
  currentCallPriority,
  resolvePriority,
  type CallPriority,
  type PrioritySource,
} from './call-priority.js';
import type { Ec2Limiter } from './limiter.js';
import { noopObserver, type Ec2Observer } from './observer.js';
import type { Ec2Api, TokenBucket } from './rate-limits.js';

/** bottleneck's heartbeat runs every 250 ms, so its refill intervals are multiples of that. */
const HEARTBEAT_MS = 250;
/** Redis keys of every limiter share this prefix; one key set per EC2 API. */
export const REDIS_LIMITER_PREFIX = 'eni-ipam:ec2';
/**
 * With Redis, the shared reservoir is refilled (in a Lua script, on Redis's clock) only when some
 * node runs a script, and waiting nodes learn of new tokens from it. bottleneck's default 5 s
 * heartbeat would let a small bucket overflow between ticks and lose refill; ticking at the refill
 * interval keeps the shared rate at the bucket's, at one script per interval per API in use.
 */
const REDIS_HEARTBEAT_MIN_MS = 250;

/** bottleneck runs lower numbers first (0-9, default 5). */
const BOTTLENECK_PRIORITY: Readonly<Record<CallPriority, number>> = { demand: 2, warm: 7 };

export interface RefillSchedule {
  intervalMs: number;
  amount: number;
}

/**
 * bottleneck adds `amount` tokens every `intervalMs` (a multiple of its 250 ms heartbeat). Pick the
 * shortest interval at which the amount is a whole number of tokens, so the bucket never holds a
 * fraction that bottleneck would sit on; a rate with no such interval in 100 s gets a fractional one.
 */
export function refillSchedule(bucket: TokenBucket): RefillSchedule {
  for (let beats = 1; beats <= 400; beats++) {
    const intervalMs = beats * HEARTBEAT_MS;
    const amount = (bucket.refillPerSecond * intervalMs) / 1000;
    if (amount >= 1 && Math.abs(amount - Math.round(amount)) < 1e-9)
      return { intervalMs, amount: Math.round(amount) };
  }
  const intervalMs = Math.ceil(1000 / bucket.refillPerSecond / HEARTBEAT_MS) * HEARTBEAT_MS;
  return { intervalMs, amount: (bucket.refillPerSecond * intervalMs) / 1000 };
}

/** The ioredis connection options the shared budget sets. */
export interface RedisClientOptions {
  enableOfflineQueue: boolean;
  maxRetriesPerRequest: number;
  commandTimeout: number;
  connectTimeout: number;
  retryStrategy: () => number;
}

export interface BottleneckLimiterOptions {
  buckets: Readonly<Record<Ec2Api, TokenBucket>>;
  /**
   * With a Redis URL every process using the same URL and `clusterId` shares ONE bucket per API
   * (bottleneck's clustering keeps the reservoir in Redis and refills it in a Lua script on Redis's
   * clock), so hundreds of nodes stay inside the account's budget together.
   */
  redisUrl?: string;
  /** Separates budgets of different accounts or clusters sharing one Redis. */
  clusterId?: string;
  /** ioredis options (timeouts, offline queue) for the connection. */
  redisOptions?: RedisClientOptions;
  observer?: Ec2Observer;
}

/**
 * The production limiter: bottleneck's reservoir with reservoirIncreaseInterval/Amount/Maximum is a
 * token bucket. bottleneck runs on real timers, so simulated runs use ClockTokenBucketLimiter.
 * Nothing connects before the first call: the constructor does no I/O.
 */
export class BottleneckLimiter implements Ec2Limiter {
  private readonly limiters = new Map<Ec2Api, Bottleneck>();
  private connection: Bottleneck.IORedisConnection | undefined;
  private readonly observer: Ec2Observer;
  private closed = false;
  /**
   * ioredis is loaded only with a Redis URL (most nodes have none): a dynamic import, so that the
   * agent's bundle keeps it in a chunk of its own. Settled before the first limiter is built.
   */
  private Redis: typeof RedisClient | undefined;
  private readonly redisLoaded: Promise<void> | undefined;

  constructor(private readonly options: BottleneckLimiterOptions) {
    this.observer = options.observer ?? noopObserver;
    if (options.redisUrl !== undefined) {
      this.redisLoaded = import('ioredis').then((m) => {
        this.Redis = m.Redis;
      });
      // Reported by the first schedule(); unobserved until then.
      this.redisLoaded.catch(() => undefined);
    }
  }

  async schedule<T>(
    api: Ec2Api,
    fn: () => Promise<T>,
    priority: PrioritySource = currentCallPriority(),
  ): Promise<T> {
    if (this.closed) throw new Error('EC2 limiter is closed');
    if (this.redisLoaded !== undefined && this.Redis === undefined) await this.redisLoaded;
    const limiter = this.limiter(api);
    try {
      return await limiter.schedule({ priority: BOTTLENECK_PRIORITY[resolvePriority(priority)] }, fn);
    } finally {
      this.report(api, limiter);
    }
  }

  throttled(api: Ec2Api): void {
    if (this.redisLoaded !== undefined && this.Redis === undefined) {
      this.redisLoaded.then(
        () => {
          if (!this.closed) this.throttled(api);
        },
        () => undefined,
      );
      return;
    }
    const limiter = this.limiter(api);
    // Shared through Redis, this slows every node at once: which is right, they share the bucket.
    // Not updateSettings({ reservoir: 0 }): on a local limiter it clears the refill heartbeat and
    // never restarts it (LocalDatastore._startHeartbeat), so the API would never run again.
    const pending = limiter
      .currentReservoir()
      .then((tokens) => (tokens === null || tokens <= 0 ? tokens : limiter.incrementReservoir(-tokens)));
    pending.catch(() => undefined);
  }

  /** Tokens in the API's bucket now (with Redis: the cluster's, read on Redis's clock). */
  async tokens(api: Ec2Api): Promise<number> {
    if (this.redisLoaded !== undefined && this.Redis === undefined) await this.redisLoaded;
    return (await this.limiter(api).currentReservoir()) ?? this.options.buckets[api].size;
  }

  /**
   * Resolves once every API's limiter is initialised in its datastore (with Redis: connected and
   * its keys created if missing); rejects when that fails.
   */
  async ready(): Promise<void> {
    await this.redisLoaded;
    const limiters = (Object.keys(this.options.buckets) as Ec2Api[]).map((api) => this.limiter(api));
    await Promise.all(limiters.map((limiter) => limiter.ready()));
  }

  async close(): Promise<void> {
    this.closed = true;
    const limiters = [...this.limiters.values()];
    this.limiters.clear();
    // The shared connection first: a limiter disconnecting while it is still open unsubscribes in
    // a fire-and-forget promise that rejects (unhandled) when Redis is gone.
    await this.connection?.disconnect(false);
    this.connection = undefined;
    await Promise.all(limiters.map((limiter) => limiter.disconnect(false)));
  }

  private limiter(api: Ec2Api): Bottleneck {
    let limiter = this.limiters.get(api);
    if (limiter) return limiter;
    const bucket = this.options.buckets[api];
    const refill = refillSchedule(bucket);
    const settings: Bottleneck.ConstructorOptions = {
      id: `${REDIS_LIMITER_PREFIX}:${this.options.clusterId ?? 'default'}:${api}`,
      reservoir: bucket.size,
      reservoirIncreaseInterval: refill.intervalMs,
      reservoirIncreaseAmount: refill.amount,
      reservoirIncreaseMaximum: bucket.size,
    };
    if (this.options.redisUrl !== undefined) {
      // clearDatastore stays false: a node joining must not refill the cluster's bucket.
      const redisSettings = {
        ...settings,
        datastore: 'ioredis',
        clearDatastore: false,
        connection: this.redis(),
        // A store option bottleneck's typings omit.
        heartbeatInterval: Math.max(REDIS_HEARTBEAT_MIN_MS, refill.intervalMs),
      } satisfies Bottleneck.ConstructorOptions & { heartbeatInterval: number };
      limiter = new Bottleneck(redisSettings);
    } else {
      limiter = new Bottleneck(settings);
    }
    // bottleneck emits 'error' for datastore trouble; without a listener it would only go to stderr.
    limiter.on('error', () => undefined);
    this.limiters.set(api, limiter);
    return limiter;
  }

  private redis(): Bottleneck.IORedisConnection {
    if (!this.connection) {
      const url = this.options.redisUrl;
      const Redis = this.Redis;
      if (url === undefined || Redis === undefined) throw new Error('no Redis URL, or ioredis not loaded');
      this.connection = new Bottleneck.IORedisConnection({
        client: this.options.redisOptions ? new Redis(url, this.options.redisOptions) : new Redis(url),
        Redis,
      });
      this.connection.on('error', () => undefined);
    }
    return this.connection;
  }

  private report(api: Ec2Api, limiter: Bottleneck): void {
    const counts = limiter.counts();
    const queued = (counts.RECEIVED ?? 0) + (counts.QUEUED ?? 0);
    limiter.currentReservoir().then(
      (tokens) => {
        this.observer.onLimiter({ api, queued, tokens: tokens ?? undefined });
      },
      () => {
        this.observer.onLimiter({ api, queued, tokens: undefined });
      },
    );
  }
}
