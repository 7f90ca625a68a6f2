import type { Ec2ErrorClass } from './ec2-network.js';
import type { Ec2Api } from './rate-limits.js';

/** One EC2 request as it went over the wire (each retry is its own call). */
export interface Ec2CallRecord {
  api: Ec2Api;
  /** From just before the request was sent to its answer; time spent queued in the limiter excluded. */
  durationMs: number;
  /** The EC2 error code, undefined on success. */
  errorCode: string | undefined;
  errorClass: Ec2ErrorClass | undefined;
  throttled: boolean;
  /** 0 for the first try of a logical call. */
  attempt: number;
}

/** A limiter's state after it changed: how much work waits and how many tokens are left. */
export interface LimiterSample {
  api: Ec2Api;
  queued: number;
  /** Undefined when the limiter cannot tell cheaply (the Redis-shared one between samples). */
  tokens: number | undefined;
}

/**
 * What provider/ reports about its EC2 traffic. The agent wires it to Prometheus; provider/ itself
 * knows no metrics library, so tests can record calls with a plain array.
 */
/** The shared budget (EC2_RATE_LIMIT_REDIS_URL) changed where calls wait. */
export interface SharedBudgetChange {
  /** `shared`: in the cluster's Redis budget; `degraded`: in the node's own limiter, Redis is away. */
  state: 'shared' | 'degraded';
  reason: string;
}

export interface Ec2Observer {
  onCall(record: Ec2CallRecord): void;
  onLimiter(sample: LimiterSample): void;
  /** Reported once per change, not per call. */
  onSharedBudget?(change: SharedBudgetChange): void;
}

export const noopObserver: Ec2Observer = {
  onCall: () => undefined,
  onLimiter: () => undefined,
};
