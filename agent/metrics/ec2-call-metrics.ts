import { Counter, Gauge, Summary, type Registry } from 'prom-client';
import type {
  Ec2CallRecord,
  Ec2Observer,
  LimiterSample,
  SharedBudgetChange,
} from '../../provider/observer.js';
import type { Logger } from '../logger.js';

/**
 * Records provider/'s EC2 traffic in Prometheus: the one wrapper the style guide asks for, instead
 * of a counter at every call site. provider/ calls `onCall` once per request on the wire (each
 * retry is its own request, as in the AWS VPC CNI, whose SDK retries are also counted one by one)
 * and `onLimiter` whenever a limiter's queue or tokens change.
 */
export class Ec2CallMetrics implements Ec2Observer {
  private readonly latency: Summary<'api' | 'error' | 'status'>;
  private readonly apiErrors: Counter<'api' | 'error'>;
  private readonly requests: Counter<'fn'>;
  private readonly failedRequests: Counter<'fn'>;
  private readonly throttles: Counter<'api'>;
  private readonly errorClasses: Counter<'api' | 'class'>;
  private readonly retries: Counter<'api'>;
  private readonly limiterQueued: Gauge<'api'>;
  private readonly limiterTokens: Gauge<'api'>;
  private readonly sharedBudgetDegraded: Gauge;
  private readonly sharedBudgetChanges: Counter<'state'>;

  constructor(registry: Registry) {
    const registers = [registry];
    // A summary without quantiles, as the AWS VPC CNI's: _sum and _count per label set.
    this.latency = new Summary({
      name: 'awscni_aws_api_latency_ms',
      help: 'AWS API call latency in ms',
      labelNames: ['api', 'error', 'status'],
      percentiles: [],
      registers,
    });
    this.apiErrors = new Counter({
      name: 'awscni_aws_api_error_count',
      help: 'The number of times AWS API returns an error',
      labelNames: ['api', 'error'],
      registers,
    });
    this.requests = new Counter({
      name: 'awscni_ec2api_req_count',
      help: 'The number of requests made to EC2 APIs by CNI',
      labelNames: ['fn'],
      registers,
    });
    this.failedRequests = new Counter({
      name: 'awscni_ec2api_error_count',
      help: 'The number of failed EC2 APIs requests',
      labelNames: ['fn'],
      registers,
    });
    this.throttles = new Counter({
      name: 'eniipam_aws_api_throttles_total',
      help: 'EC2 requests answered with RequestLimitExceeded (or another throttling error)',
      labelNames: ['api'],
      registers,
    });
    this.sharedBudgetDegraded = new Gauge({
      name: 'eniipam_ec2_shared_budget_degraded',
      help: "1 while the shared EC2 budget (EC2_RATE_LIMIT_REDIS_URL) is away and calls use the node's own limiter",
      registers,
    });
    this.sharedBudgetChanges = new Counter({
      name: 'eniipam_ec2_shared_budget_changes_total',
      help: 'Changes of where EC2 calls wait: state="degraded" (Redis away) or "shared" (Redis budget in use)',
      labelNames: ['state'],
      registers,
    });
    this.errorClasses = new Counter({
      name: 'eniipam_aws_api_errors_by_class_total',
      help: 'Failed EC2 requests by error class (throttled, transient, not-yet-visible, subnet-full, limit, permanent)',
      labelNames: ['api', 'class'],
      registers,
    });
    this.retries = new Counter({
      name: 'eniipam_aws_api_retries_total',
      help: 'EC2 requests that were a retry of an earlier failed request',
      labelNames: ['api'],
      registers,
    });
    this.limiterQueued = new Gauge({
      name: 'eniipam_limiter_queued',
      help: 'EC2 calls waiting in the rate limiter, per API',
      labelNames: ['api'],
      registers,
    });
    this.limiterTokens = new Gauge({
      name: 'eniipam_limiter_tokens',
      help: 'Tokens left in the rate limiter bucket, per API',
      labelNames: ['api'],
      registers,
    });
  }

  onCall(record: Ec2CallRecord): void {
    const api = record.api;
    const failed = record.errorCode !== undefined || record.errorClass !== undefined;
    this.requests.inc({ fn: api });
    // An API's throttle series exists from its first call, at 0, so that "throttles by API" panels
    // and rate() alerts see a value rather than no data until the first throttle.
    this.throttles.inc({ api }, 0);
    this.latency.observe({ api, error: String(failed), status: httpStatusLabel(record) }, record.durationMs);
    if (record.attempt > 0) this.retries.inc({ api });
    if (record.throttled) this.throttles.inc({ api });
    if (!failed) return;
    this.failedRequests.inc({ fn: api });
    // The AWS VPC CNI counts only errors that carry an AWS code; one without (a socket error) is
    // still an error here, under a placeholder, so the error count never hides a failure.
    this.apiErrors.inc({ api, error: record.errorCode ?? 'Unknown' });
    if (record.errorClass !== undefined) this.errorClasses.inc({ api, class: record.errorClass });
  }

  onSharedBudget(change: SharedBudgetChange): void {
    this.sharedBudgetDegraded.set(change.state === 'degraded' ? 1 : 0);
    this.sharedBudgetChanges.inc({ state: change.state });
  }

  onLimiter(sample: LimiterSample): void {
    this.limiterQueued.set({ api: sample.api }, sample.queued);
    // The Redis-shared limiter cannot always tell its tokens: keep the last known value.
    if (sample.tokens !== undefined) this.limiterTokens.set({ api: sample.api }, sample.tokens);
  }
}

/**
 * The AWS VPC CNI labels latency with the HTTP status ("200" on success, "" when unknown). The
 * provider's record carries the error code but not the status, so a failure is labelled "".
 */
function httpStatusLabel(record: Ec2CallRecord): string {
  return record.errorCode === undefined && record.errorClass === undefined ? '200' : '';
}

/**
 * The observer with the shared budget's changes also logged: once per change (Redis left, Redis is
 * back), never per call. Readiness does not depend on it: the node's own limiter serves meanwhile.
 */
export function loggingSharedBudget(observer: Ec2CallMetrics, logger: Logger): Ec2Observer {
  return {
    onCall: (record) => {
      observer.onCall(record);
    },
    onLimiter: (sample) => {
      observer.onLimiter(sample);
    },
    onSharedBudget: (change) => {
      observer.onSharedBudget(change);
      if (change.state === 'degraded')
        logger.warn(
          { reason: change.reason },
          "shared EC2 budget unavailable; using the node's own adaptive limiter until Redis is back",
        );
      else logger.info({ reason: change.reason }, 'shared EC2 budget in use');
    },
  };
}
