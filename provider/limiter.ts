import type { Clock, Timer } from '../time/clock.js';
import { AdaptiveRate } from './adaptive-rate.js';
import { sharingNodes, type ContenderCount } from './contenders.js';
import type { RandomSource } from './backoff.js';
import { currentCallPriority, resolvePriority, type PrioritySource } from './call-priority.js';
import { noopObserver, type Ec2Observer } from './observer.js';
import { ACCOUNT_BUCKETS, RATE_FAMILY, type Ec2Api, type TokenBucket } from './rate-limits.js';

/**
 * A client-side token bucket per EC2 API, so that the node spends its budget by waiting in line
 * instead of by collecting RequestLimitExceeded (which EC2 charges against the same bucket).
 */
export interface Ec2Limiter {
  /**
   * Runs `fn` once the API's bucket has a token. Calls at `demand` priority (the default: the
   * priority of the work running, see call-priority.ts) start before any call at `warm` priority;
   * within a priority, calls to one API start in FIFO order.
   */
  schedule<T>(api: Ec2Api, fn: () => Promise<T>, priority?: PrioritySource): Promise<T>;
  /**
   * EC2 answered RequestLimitExceeded: the account's bucket is dry (other nodes or tools spend it
   * too), so our estimate is too generous. The limiter slows this API down and recovers as EC2
   * answers again.
   */
  throttled(api: Ec2Api): void;
  /** Stops timers and connections; queued calls are left to their callers' cancellation. */
  close(): Promise<void>;
}

/** APIs called once per ENI right after its CreateNetworkInterface. */
const FOLLOWS_CREATE: ReadonlySet<Ec2Api> = new Set([
  'AttachNetworkInterface',
  'ModifyNetworkInterfaceAttribute',
]);

/**
 * The longest hold of an API after EC2 refused one of its calls among contenders (the hold is drawn
 * uniformly below it), with `shareMs` the node's share (the time the account takes to pass one call
 * of every contender; never less than the bucket's own refill time). A dry bucket that the refused
 * nodes all poll again soon stays dry, so the hold spreads them over a share, as the node's own turn
 * would; an ENI or address call, which pods wait for, first tries half a share and doubles with every
 * refusal in a row. Describe calls (start-up, where every node makes one) take the whole share: in
 * the simulated cold start of 1,000 m5.large (bench, cold-start), their refusals were then 129
 * instead of 489 with the mutations' doubling. Mutations from a quarter of a share throttled 5.2 %
 * of calls, from half 4.7 % at the same p99 (1.41 x and 1.47 x the bound); a whole share (the wait
 * of a lost token) 4.2 % at 1.59 x.
 */
export function throttleHoldMs(api: Ec2Api, refusedInARow: number, shareMs: number): number {
  const account = ACCOUNT_BUCKETS[api];
  const longest = Math.max((1000 * account.size) / account.refillPerSecond, shareMs);
  if (RATE_FAMILY[api] === 'describe') return longest;
  return Math.min(longest, (longest / 2) * 2 ** Math.max(0, refusedInARow - 1));
}

/** Float refills may land a hair under a whole token; count that as a token. */
const TOKEN_EPSILON = 1e-9;

/** How often queued warm calls are asked whether pods now wait for them (at most). */
const PROMOTE_EVERY_MS = 1_000;

/** While warm calls are held, how often they are asked whether pods now wait for them. */
const WARM_HOLD_RECHECK_MS = 2_000;

/**
 * Among contenders, how often a wait for a token looks again at the node's share. Nodes that finish
 * their warm-up leave the count (agent/kube/recent-nodes.ts), and the share of those still working
 * grows: a wait of minutes drawn at the old share must shrink with it, or the account's bucket idles
 * at the end of a cold start while the last nodes sleep through their turn. In the simulated cold
 * start of 200 nodes with prefix delegation (bench, cold-start; seeds 1-6), looking every 2 s had
 * all nodes warm at 1.08-1.17 x the bound, every 5 s at 1.08-1.36 x (1,000 m5.large: 1.08-1.12 x
 * either way). A look is a timer and a little arithmetic, only while a call waits.
 */
export const SHARE_RECHECK_MS = 2_000;

interface Queued {
  start: () => void;
  priority: PrioritySource;
}

interface BucketState {
  tokens: number;
  lastRefillAt: number;
  /** The refill rate in effect since lastRefillAt (the share changes between two refills). */
  rate: number;
  /**
   * The wait for a token under way among contenders: when it ends and at which rate it was drawn,
   * so that a share that grows or shrinks meanwhile scales what is left of it (jitter included).
   */
  due: { at: number; rate: number } | undefined;
  /** No call starts before this time: EC2 just found the account's bucket dry (contenders only). */
  heldUntil: number;
  /** No warm call starts before this time: the account's bucket is congested (contenders only). */
  warmHeldUntil: number;
  /** Calls EC2 refused since it last answered one of this API. */
  refusedInARow: number;
  demand: Queued[];
  warm: Queued[];
  promotedAt: number;
  timer: Timer | undefined;
  adaptive: AdaptiveRate | undefined;
}

export interface ClockTokenBucketOptions {
  observer?: Ec2Observer;
  /**
   * React to RequestLimitExceeded by lowering the rate (AIMD, adaptive-rate.ts) and spread waits
   * with jitter, so that hundreds of nodes without a shared budget converge on what the account's
   * buckets pass. Off for a limiter shared by the whole cluster in one process (the simulator's
   * model of the Redis budget), where one bucket already is the account's share.
   */
  adaptive?: boolean;
  /** Jitter of the waits for a token (adaptive only); deterministic in simulated runs. */
  random?: RandomSource;
  /**
   * The nodes that spend the account's buckets now (adaptive only): nodes that start together (a
   * cluster autoscaler's scale-up) each take an equal share of every account bucket among those
   * still setting up (contenders.ts), and their first calls are spread over the time the bucket
   * takes to pass them all, so that hundreds of nodes do not all meet one dry bucket at t = 0 and
   * learn of it by throttles. Read at every refill: shares grow as nodes finish.
   */
  contenders?: () => ContenderCount;
}

/**
 * Nodes that joined the cluster this recently count as contenders: they are still setting up their
 * ENIs and warm pools. A cold start of a thousand nodes is warm in about 400 s at EC2's default
 * buckets; the window covers that with room.
 */
export const CONTENDER_WINDOW_MS = 15 * 60_000;

/**
 * One node's share of an account bucket divided into `sharing` equal shares (contenders.ts,
 * sharingNodes): an equal part of its refill and of its burst (at least one call, else the bucket
 * could never admit one). Never more than the node's own configured bucket.
 */
export function contenderShare(own: TokenBucket, account: TokenBucket, sharing: number): TokenBucket {
  const n = Math.max(1, sharing);
  return {
    size: Math.min(own.size, Math.max(1, account.size / n)),
    refillPerSecond: Math.min(own.refillPerSecond, account.refillPerSecond / n),
  };
}

/**
 * Tokens a node's bucket starts with when the account's bucket is divided into n = `sharing` shares.
 * Drawn uniformly in [0, 1 + burst / n) of a token: about `burst` of the n nodes can call at once,
 * and the others' first calls spread evenly over the time the account's refill takes to serve them
 * (n / refill), which is what the account's bucket passes without a throttle. The waits that follow
 * shrink as nodes finish and the share grows, so the nodes left take the idle shares.
 * Tried instead: each node draws a place in line and calls at (place - burst) / refill of the
 * account's bucket, without jitter, the place fixed while the shares grow. In the simulated cold
 * start (bench, cold-start) it cut the 200 prefix-delegation nodes' p99 from 1.35 x to 1.19 x the
 * bound, but the places reach the bucket at exactly its pace, so near-collisions are refused and
 * held: 5 % of calls throttled there, all nodes warm 1.31 x (24 s -> 28 s), and on 1,000 m5.large
 * 4.4 % throttled against 3.8 %. Paying the place as a token deficit at the growing share instead
 * let the far places arrive together (11 % throttled).
 */
export function contenderStartTokens(
  own: TokenBucket,
  account: TokenBucket,
  sharing: number,
  random: RandomSource,
): number {
  const n = Math.max(1, sharing);
  return Math.min(own.size, random() * (1 + account.size / n));
}

/**
 * A token bucket per API on the injected Clock with continuous refill, demand-first queues and an
 * adaptive rate. It runs on the system clock in production (the node's own budget) and on a
 * ManualClock in the simulator and benchmarks, where hundreds of agents run in one process; on
 * simulated time it is exact, which is also what makes its rate testable to the token.
 */
export class ClockTokenBucketLimiter implements Ec2Limiter {
  private readonly states = new Map<Ec2Api, BucketState>();
  private readonly observer: Ec2Observer;
  private readonly random: RandomSource | undefined;
  private readonly contenders: (() => ContenderCount) | undefined;
  private closed = false;

  constructor(
    private readonly buckets: Readonly<Record<Ec2Api, TokenBucket>>,
    private readonly clock: Clock,
    options: ClockTokenBucketOptions | Ec2Observer = {},
  ) {
    const opts: ClockTokenBucketOptions = 'onCall' in options ? { observer: options } : options;
    this.observer = opts.observer ?? noopObserver;
    this.random = opts.adaptive === true ? (opts.random ?? Math.random) : undefined;
    this.contenders = opts.adaptive === true ? opts.contenders : undefined;
  }

  schedule<T>(
    api: Ec2Api,
    fn: () => Promise<T>,
    priority: PrioritySource = currentCallPriority(),
  ): Promise<T> {
    if (this.closed) return Promise.reject(new Error('EC2 limiter is closed'));
    return new Promise<T>((resolve, reject) => {
      const state = this.state(api);
      const start = (): void => {
        fn().then((value) => {
          state.adaptive?.answered();
          state.refusedInARow = 0;
          resolve(value);
        }, reject);
      };
      (resolvePriority(priority) === 'warm' ? state.warm : state.demand).push({ start, priority });
      this.pump(api);
    });
  }

  throttled(api: Ec2Api): void {
    const state = this.state(api);
    this.refill(api, state);
    const now = this.clock.now();
    state.adaptive?.throttled(now);
    const contenders = this.sharing();
    if (this.random === undefined || contenders <= 1) {
      state.tokens = 0;
      this.report(api, state);
      return;
    }
    // Among contenders a node's share is one call every minute or more, and a lost token makes the
    // next call wait a whole share again (and with jitter up to one and a half): the pods of the
    // nodes EC2 refused were the slowest of a cold start (p99 2.6 x the bound at 1,000 nodes). The
    // refused call spent none of the account's bucket, so it keeps its turn: the token comes back,
    // and no call of this API starts for a random hold (throttleHoldMs), which spreads the refused
    // nodes over the time the account needs to serve them.
    state.tokens = Math.max(1, state.tokens + 1);
    state.refusedInARow++;
    state.due = undefined;
    const shareMs =
      1000 / contenderShare(this.buckets[api], ACCOUNT_BUCKETS[api], contenders).refillPerSecond;
    state.heldUntil = Math.max(
      state.heldUntil,
      now + this.random() * throttleHoldMs(api, state.refusedInARow, shareMs),
    );
    // Demand first across the cluster: the bucket is dry because the contenders spend it, some of
    // them for pods waiting now. This node's warm-up steps aside for about one share (the time the
    // account takes to pass one call of every contender), so that theirs go first. An attach that
    // was refused holds back the node's creates too (for the same hold, and warm ones for the
    // share), whose attaches would follow into the same dry bucket.
    const warmHoldUntil = now + (0.5 + this.random()) * shareMs;
    for (const held of FOLLOWS_CREATE.has(api) ? [api, 'CreateNetworkInterface' as const] : [api]) {
      const heldState = this.state(held);
      heldState.warmHeldUntil = Math.max(heldState.warmHeldUntil, warmHoldUntil);
      heldState.heldUntil = Math.max(heldState.heldUntil, state.heldUntil);
      heldState.timer?.cancel();
      heldState.timer = undefined;
      this.pump(held);
    }
  }

  /** Tokens available now (for tests and introspection). */
  tokens(api: Ec2Api): number {
    const state = this.state(api);
    this.refill(api, state);
    return state.tokens;
  }

  /** The refill rate this API runs at now (lower than configured after throttles). */
  currentRate(api: Ec2Api): number {
    return this.refillRate(api, this.state(api));
  }

  queued(api: Ec2Api): number {
    const state = this.states.get(api);
    return state ? state.demand.length + state.warm.length : 0;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const state of this.states.values()) {
      state.timer?.cancel();
      state.timer = undefined;
    }
    return Promise.resolve();
  }

  private state(api: Ec2Api): BucketState {
    let state = this.states.get(api);
    if (!state) {
      // A fresh bucket starts full, as EC2's do; among contenders, with this node's part of it.
      const contenders = this.contendersOf(api);
      state = {
        tokens:
          this.random === undefined || contenders <= 1
            ? this.buckets[api].size
            : contenderStartTokens(this.buckets[api], ACCOUNT_BUCKETS[api], contenders, this.random),
        lastRefillAt: this.clock.now(),
        rate: 0,
        due: undefined,
        heldUntil: -Infinity,
        warmHeldUntil: -Infinity,
        refusedInARow: 0,
        demand: [],
        warm: [],
        promotedAt: -Infinity,
        timer: undefined,
        adaptive: this.random === undefined ? undefined : new AdaptiveRate(this.buckets[api]),
      };
      this.states.set(api, state);
      state.rate = this.refillRate(api, state);
    }
    return state;
  }

  /**
   * Nodes spending the account's bucket for this API with this one. An ENI's attach and its
   * DeleteOnTermination follow its create, which already waited for its share: pacing them by a
   * share of their own again would hold each ENI for a second random wait, and bunch the attaches
   * (the later of two random waits falls late) into throttles. They follow at the creates' pace.
   */
  private contendersOf(api: Ec2Api): number {
    return FOLLOWS_CREATE.has(api) ? 1 : this.sharing();
  }

  /** Shares the account's buckets are divided into now; at most 1: the node runs on its own. */
  private sharing(): number {
    return this.contenders === undefined ? 1 : sharingNodes(this.contenders());
  }

  /** The node's bucket for this API now: its own, or its share among contenders if smaller. */
  private bucket(api: Ec2Api): TokenBucket {
    const contenders = this.contendersOf(api);
    const own = this.buckets[api];
    return contenders <= 1 ? own : contenderShare(own, ACCOUNT_BUCKETS[api], contenders);
  }

  private refillRate(api: Ec2Api, state: BucketState): number {
    const share = this.bucket(api).refillPerSecond;
    return Math.min(share, state.adaptive?.refillPerSecond() ?? share);
  }

  private refill(api: Ec2Api, state: BucketState): void {
    const now = this.clock.now();
    const share = this.bucket(api).size;
    const size = Math.min(share, state.adaptive?.size() ?? share);
    const elapsed = Math.max(0, now - state.lastRefillAt);
    const tokens = state.tokens + (elapsed * state.rate) / 1000;
    state.rate = this.refillRate(api, state);
    // A burst that shrank after a throttle does not take tokens away that were already there.
    state.tokens = Math.min(Math.max(size, Math.min(state.tokens, this.buckets[api].size)), tokens);
    state.lastRefillAt = now;
  }

  private pump(api: Ec2Api): void {
    const state = this.state(api);
    this.refill(api, state);
    const now = this.clock.now();
    const heldMs = state.heldUntil - now;
    const warmHeldMs = state.warmHeldUntil - now;
    if (heldMs <= 0) {
      if (state.tokens >= 1 - TOKEN_EPSILON) this.promote(state);
      while (state.tokens >= 1 - TOKEN_EPSILON) {
        const next = state.demand.shift() ?? (warmHeldMs <= 0 ? state.warm.shift() : undefined);
        if (!next) break;
        state.tokens = Math.max(0, state.tokens - 1);
        next.start();
      }
    }
    this.report(api, state);
    if (state.demand.length + state.warm.length > 0 && state.timer === undefined && !this.closed) {
      const missing = 1 - state.tokens;
      let tokenWaitMs = (missing * 1000) / state.rate;
      // Jitter (mean 1): nodes throttled at the same moment must not all come back together.
      if (this.random) tokenWaitMs *= 0.5 + this.random();
      let waitMs = tokenWaitMs;
      if (heldMs > 0) waitMs = Math.max(heldMs, waitMs);
      // Only held warm calls: look again now and then whether pods now wait for one of them.
      else if (state.demand.length === 0 && warmHeldMs > 0)
        waitMs = Math.max(waitMs, Math.min(warmHeldMs, WARM_HOLD_RECHECK_MS));
      if (this.contenders !== undefined && waitMs > SHARE_RECHECK_MS) {
        state.due = { at: now + tokenWaitMs, rate: state.rate };
        this.armRecheck(api, state, waitMs);
      } else {
        state.due = undefined;
        state.timer = this.clock.setTimer(Math.ceil(waitMs), () => {
          state.timer = undefined;
          this.pump(api);
        });
      }
    }
  }

  /**
   * Waits `waitMs` for a token (or a hold), looking every SHARE_RECHECK_MS whether the node's share
   * changed: what is left of the wait for the token scales by old rate / new rate, so a node whose
   * share doubled waits half of what was left, with the jitter it drew.
   */
  private armRecheck(api: Ec2Api, state: BucketState, waitMs: number): void {
    state.timer = this.clock.setTimer(Math.ceil(Math.min(waitMs, SHARE_RECHECK_MS)), () => {
      state.timer = undefined;
      const due = state.due;
      if (due === undefined || this.closed) {
        this.pump(api);
        return;
      }
      const now = this.clock.now();
      this.refill(api, state);
      if (state.rate !== due.rate) {
        due.at = now + (Math.max(0, due.at - now) * due.rate) / state.rate;
        due.rate = state.rate;
      }
      const left = Math.max(due.at, state.heldUntil) - now;
      if (left <= 0) {
        state.due = undefined;
        this.pump(api);
      } else this.armRecheck(api, state, left);
    });
  }

  /**
   * Queued warm calls that pods now wait for join the demand queue, behind the demand already
   * there. Checked at most once a second, also while demand is queued: in a budget the cluster
   * shares, other nodes' demand rarely runs out, and a warm-up turned demand must not wait for it to.
   */
  private promote(state: BucketState): void {
    const now = this.clock.now();
    if (state.warm.length === 0 || now - state.promotedAt < PROMOTE_EVERY_MS) return;
    state.promotedAt = now;
    const stillWarm: Queued[] = [];
    for (const entry of state.warm) {
      if (typeof entry.priority === 'function' && entry.priority() === 'demand') state.demand.push(entry);
      else stillWarm.push(entry);
    }
    state.warm = stillWarm;
  }

  private report(api: Ec2Api, state: BucketState): void {
    this.observer.onLimiter({ api, queued: state.demand.length + state.warm.length, tokens: state.tokens });
  }
}
