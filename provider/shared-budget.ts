import type { Redis } from 'ioredis';
import type { Clock, Timer } from '../time/clock.js';
import { BottleneckLimiter, refillSchedule, type RedisClientOptions } from './bottleneck-limiter.js';
import { currentCallPriority, resolvePriority, type PrioritySource } from './call-priority.js';
import type { Ec2Limiter } from './limiter.js';
import { noopObserver, type Ec2Observer } from './observer.js';
import type { Ec2Api, TokenBucket } from './rate-limits.js';

/** How often Redis is checked: while shared, to notice it left; while away, to notice it is back. */
export const SHARED_BUDGET_PROBE_MS = 2_000;
/** A Redis command slower than this counts as Redis being away (the node must not wait on it). */
export const SHARED_BUDGET_REDIS_TIMEOUT_MS = 1_000;

export type SharedBudgetState = 'connecting' | 'shared' | 'degraded';

/**
 * The part of every shared bucket kept for calls that serve pods waiting now. Each node orders its
 * own calls demand first, but nodes queue independently: without a reserve, a thousand nodes' warm
 * pools would take the tokens a pod of another node waits for. A warm-up (or a release) starts only
 * while the bucket holds more than the reserve, so it still runs at the bucket's full refill rate;
 * only the reserve's part of the burst is left to demand.
 */
export const DEMAND_RESERVE_SHARE = 0.2;

/** Tokens of the bucket only demand may take: a share of its size, at least one. */
export function demandReserve(bucket: TokenBucket, share = DEMAND_RESERVE_SHARE): number {
  return Math.max(1, Math.floor(bucket.size * share));
}

/**
 * How many warm calls may start now with `tokens` in the shared bucket: those that leave the
 * reserve in it (the bucket refills between two looks; other nodes may take some meanwhile).
 */
export function warmCallsAllowed(tokens: number, bucket: TokenBucket, share = DEMAND_RESERVE_SHARE): number {
  return Math.max(0, Math.floor(tokens + 1e-9) - demandReserve(bucket, share));
}

export interface SharedBudgetOptions {
  redisUrl: string;
  clusterId?: string;
  /** The cluster's buckets per API (the account's, scaled by the configured shares). */
  buckets: Readonly<Record<Ec2Api, TokenBucket>>;
  /** The node's own adaptive limiter: what calls go through while Redis is away. */
  local: Ec2Limiter;
  clock: Clock;
  observer?: Ec2Observer;
  probeIntervalMs?: number;
  redisTimeoutMs?: number;
}

/** A call waiting in the shared limiter that has not started: it can still move to the local one. */
interface PendingShared {
  reroute(): void;
}

/** Warm calls of one API waiting for the shared bucket to hold more than the demand reserve. */
interface WarmGate {
  waiting: { priority: PrioritySource; go: () => void }[];
  timer: Timer | undefined;
  looking: boolean;
}

/**
 * The cluster-wide EC2 budget (EC2_RATE_LIMIT_REDIS_URL) that survives Redis. While Redis answers,
 * every call waits in the shared bucket of its API (bottleneck's Redis datastore). When Redis is
 * unreachable at start, dies, restarts empty (bottleneck 2.19.5 misses Redis 7's
 * `ERR SETTINGS_KEY_NOT_FOUND` and would fail every call until the process restarts) or answers
 * slower than SHARED_BUDGET_REDIS_TIMEOUT_MS, calls go through the node's own adaptive limiter
 * instead: the agent keeps serving pods at the per-node rate, readiness is unaffected, the change is
 * reported once through the observer. A probe notices Redis coming back and resumes the shared
 * budget with fresh limiters, whose initialisation re-creates the budget's keys.
 */
export class SharedBudgetLimiter implements Ec2Limiter {
  private shared: BottleneckLimiter | undefined;
  private probeClient: Redis | undefined;
  private probeTimer: Timer | undefined;
  private state: SharedBudgetState = 'connecting';
  private started = false;
  private closed = false;
  private probing = false;
  private readonly pending = new Set<PendingShared>();
  private readonly gates = new Map<Ec2Api, WarmGate>();
  private readonly observer: Ec2Observer;
  private readonly redisOptions: RedisClientOptions;

  constructor(private readonly options: SharedBudgetOptions) {
    this.observer = options.observer ?? noopObserver;
    const timeout = options.redisTimeoutMs ?? SHARED_BUDGET_REDIS_TIMEOUT_MS;
    this.redisOptions = {
      // Fail at once instead of queueing while disconnected, and never wait longer than the timeout:
      // the local limiter is the answer while Redis is away, not a longer wait.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeout,
      connectTimeout: timeout,
      retryStrategy: () => options.probeIntervalMs ?? SHARED_BUDGET_PROBE_MS,
    };
  }

  /** Where calls go now (for tests, metrics and introspection). */
  currentState(): SharedBudgetState {
    return this.state;
  }

  schedule<T>(
    api: Ec2Api,
    fn: () => Promise<T>,
    priority: PrioritySource = currentCallPriority(),
  ): Promise<T> {
    if (this.closed) return Promise.reject(new Error('EC2 limiter is closed'));
    this.start();
    if (this.state === 'shared' && resolvePriority(priority) === 'warm')
      return this.afterReserve(api, priority).then(() => this.scheduleNow(api, fn, priority));
    return this.scheduleNow(api, fn, priority);
  }

  private scheduleNow<T>(api: Ec2Api, fn: () => Promise<T>, priority: PrioritySource): Promise<T> {
    if (this.closed) return Promise.reject(new Error('EC2 limiter is closed'));
    const shared = this.shared;
    if (this.state !== 'shared' || shared === undefined)
      return this.options.local.schedule(api, fn, priority);
    return new Promise<T>((resolve, reject) => {
      let began = false;
      let moved = false;
      const entry: PendingShared = {
        reroute: () => {
          if (began || moved) return;
          moved = true;
          this.pending.delete(entry);
          this.options.local.schedule(api, fn, priority).then(resolve, reject);
        },
      };
      this.pending.add(entry);
      shared
        .schedule(
          api,
          () => {
            // Moved to the local limiter meanwhile: it must not run twice.
            if (moved) return Promise.reject(new Error('moved to the local limiter'));
            began = true;
            this.pending.delete(entry);
            // The caller gets the call's own outcome, whatever bottleneck's bookkeeping does after it.
            const call = fn();
            call.then(resolve, reject);
            return call;
          },
          priority,
        )
        .then(
          () => undefined,
          (err: unknown) => {
            if (moved || began) return;
            // The shared limiter failed before the call started: Redis is the problem, not EC2.
            this.degrade(describe(err));
            entry.reroute();
          },
        );
    });
  }

  /**
   * Resolves when a warm call may enter the shared bucket: it holds more than the demand reserve,
   * pods now wait for the call (it became demand), or Redis is away (the local limiter orders it).
   */
  private afterReserve(api: Ec2Api, priority: PrioritySource): Promise<void> {
    return new Promise<void>((go) => {
      let gate = this.gates.get(api);
      if (!gate) {
        gate = { waiting: [], timer: undefined, looking: false };
        this.gates.set(api, gate);
      }
      gate.waiting.push({ priority, go });
      if (gate.timer === undefined) void this.lookAtBucket(api, gate);
    });
  }

  /** One look at the shared bucket for the warm calls of an API; again after a refill step if some still wait. */
  private async lookAtBucket(api: Ec2Api, gate: WarmGate): Promise<void> {
    if (gate.looking) return;
    gate.looking = true;
    gate.timer = undefined;
    try {
      const shared = this.shared;
      const open = this.closed || this.state !== 'shared' || shared === undefined;
      const stillWarm = gate.waiting.filter((w) => open || resolvePriority(w.priority) === 'warm');
      for (const w of gate.waiting) if (!stillWarm.includes(w)) w.go();
      gate.waiting = stillWarm;
      if (open || gate.waiting.length === 0) {
        for (const w of gate.waiting.splice(0)) w.go();
        return;
      }
      let allowed: number;
      try {
        allowed = warmCallsAllowed(await shared.tokens(api), this.options.buckets[api]);
      } catch {
        // Redis did not answer: the calls go on, and the shared limiter's own failure moves them.
        allowed = gate.waiting.length;
      }
      for (const w of gate.waiting.splice(0, allowed)) w.go();
    } finally {
      gate.looking = false;
      if (gate.waiting.length > 0 && gate.timer === undefined) {
        // The shared bucket refills in steps (bottleneck's reservoir increase): look once per step.
        gate.timer = this.options.clock.setTimer(refillSchedule(this.options.buckets[api]).intervalMs, () => {
          void this.lookAtBucket(api, gate);
        });
      }
    }
  }

  throttled(api: Ec2Api): void {
    if (this.state === 'shared') this.shared?.throttled(api);
    // The node's own limiter learns either way: it is what runs if Redis goes away.
    this.options.local.throttled(api);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const gate of this.gates.values()) {
      gate.timer?.cancel();
      gate.timer = undefined;
      // They reach scheduleNow, which refuses them: the limiter is closed.
      for (const w of gate.waiting.splice(0)) w.go();
    }
    this.probeTimer?.cancel();
    this.probeTimer = undefined;
    const shared = this.shared;
    this.shared = undefined;
    this.probeClient?.disconnect();
    this.probeClient = undefined;
    await Promise.all([shared?.close(), this.options.local.close()]);
  }

  /** Nothing connects before the first call (the constructor does no I/O). */
  private start(): void {
    if (this.started) return;
    this.started = true;
    void this.connectProbe();
  }

  /**
   * ioredis is loaded here, on the first call, never at import: most nodes run without a shared
   * budget, and the agent then carries none of the Redis client (a dynamic import).
   */
  private async connectProbe(): Promise<void> {
    try {
      const { Redis: RedisClient } = await import('ioredis');
      if (this.closed) return;
      this.probeClient = new RedisClient(this.options.redisUrl, this.redisOptions);
      this.probeClient.on('error', () => undefined);
    } catch (err) {
      this.degrade(describe(err));
      this.scheduleProbe();
      return;
    }
    await this.probe();
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    this.probeTimer = this.options.clock.setTimer(
      this.options.probeIntervalMs ?? SHARED_BUDGET_PROBE_MS,
      () => {
        this.probeTimer = undefined;
        void this.probe();
      },
    );
  }

  private async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      const healthy = await this.redisAnswers();
      if (this.closed) return;
      if (!healthy) this.degrade('Redis does not answer');
      else if (this.state !== 'shared') await this.resume();
    } finally {
      this.probing = false;
      this.scheduleProbe();
    }
  }

  private async redisAnswers(): Promise<boolean> {
    const client = this.probeClient;
    if (!client) return false;
    try {
      // A connection still being set up gets the timeout to finish: a PING without the offline
      // queue would fail at once, and report a healthy Redis as away.
      if (client.status !== 'ready')
        await readyWithin(client, this.options.redisTimeoutMs ?? SHARED_BUDGET_REDIS_TIMEOUT_MS);
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /** Fresh limiters on a fresh connection: their initialisation re-creates keys Redis lost. */
  private async resume(): Promise<void> {
    const previous = this.shared;
    this.shared = undefined;
    await previous?.close().catch(() => undefined);
    const limiter = new BottleneckLimiter({
      buckets: this.options.buckets,
      redisUrl: this.options.redisUrl,
      redisOptions: this.redisOptions,
      observer: this.observer,
      ...(this.options.clusterId === undefined ? {} : { clusterId: this.options.clusterId }),
    });
    try {
      await limiter.ready();
    } catch (err) {
      await limiter.close().catch(() => undefined);
      this.degrade(describe(err));
      return;
    }
    if (this.closed) {
      await limiter.close().catch(() => undefined);
      return;
    }
    this.shared = limiter;
    const was = this.state;
    this.state = 'shared';
    this.observer.onSharedBudget?.({
      state: 'shared',
      reason: was === 'connecting' ? 'connected' : 'Redis is back',
    });
  }

  private degrade(reason: string): void {
    if (this.state === 'degraded') return;
    const was = this.state;
    this.state = 'degraded';
    // Reported once per outage; a node that never reached Redis reports it too.
    this.observer.onSharedBudget?.({
      state: 'degraded',
      reason: was === 'connecting' ? `not reachable: ${reason}` : reason,
    });
    const waiting = [...this.pending];
    this.pending.clear();
    for (const entry of waiting) entry.reroute();
    // Warm calls held for the reserve go to the local limiter too, which orders them itself.
    for (const gate of this.gates.values()) for (const w of gate.waiting.splice(0)) w.go();
    const shared = this.shared;
    this.shared = undefined;
    void shared?.close().catch(() => undefined);
  }
}

function readyWithin(client: Redis, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error('Redis connection not ready'));
    }, ms);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
