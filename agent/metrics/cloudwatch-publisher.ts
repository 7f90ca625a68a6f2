import type { MetricDatum, MetricsSink } from '../../provider/cloudwatch.js';
import { CloudWatchError } from '../../provider/errors.js';
import { isAbortError, type Clock, type Timer } from '../../time/clock.js';
import type { CloudWatchSample } from './cloudwatch-samples.js';

/** Where failures and drops are counted (AgentMetrics implements it). */
export interface PublisherStats {
  putFailed(errorCode: string): void;
  datumsDropped(count: number): void;
}

/** The slice of a pino logger the publisher uses. */
export interface WarnLogger {
  warn(details: object, message: string): void;
}

export interface CloudWatchPublisherOptions {
  /** Where batches go: provider/cloudwatch.ts's AwsCloudWatchMetrics on a node. */
  sink: MetricsSink;
  clock: Clock;
  /** Called once per interval; must be cheap and synchronous (a datastore snapshot). */
  sample: () => readonly CloudWatchSample[];
  namespace: string;
  /** Added to every datum, e.g. ClusterName, InstanceId. */
  dimensions?: readonly { name: string; value: string }[];
  intervalMs?: number;
  maxDatumsPerCall?: number;
  minCallSpacingMs?: number;
  maxQueuedDatums?: number;
  stats?: PublisherStats;
  log?: WarnLogger;
}

/** CloudWatch's standard resolution is one minute; sampling faster only buys cost. */
export const CLOUDWATCH_INTERVAL_MS = 60_000;
/** PutMetricData takes at most 1000 metric data per request (and 1 MB; ours are ~200 bytes each). */
export const CLOUDWATCH_MAX_DATUMS_PER_CALL = 1000;
/**
 * At most one PutMetricData per second per node. The account quota is shared by every node and
 * every other tool in the Region; a node publishes ~10 data per minute, so this only matters when
 * a backlog drains after an outage.
 */
export const CLOUDWATCH_MIN_CALL_SPACING_MS = 1_000;
/** About 8 hours of one node's samples: bounds memory when CloudWatch is unreachable for long. */
export const CLOUDWATCH_MAX_QUEUED_DATUMS = 5_000;

/**
 * Opt-in publishing of the key gauges to CloudWatch. Each interval it samples, queues, and drains
 * the queue in PutMetricData calls of at most `maxDatumsPerCall`, spaced by `minCallSpacingMs`.
 * It never blocks the agent: sampling is synchronous and cheap, sending happens in the background,
 * failures are logged and counted; a throttled or server-side failure keeps the batch for the next
 * interval, any other failure drops it (it would fail again). The queue is bounded: when full, the
 * oldest data are dropped and counted.
 */
export class CloudWatchPublisher {
  private readonly intervalMs: number;
  private readonly maxPerCall: number;
  private readonly spacingMs: number;
  private readonly maxQueued: number;
  private readonly common: readonly { name: string; value: string }[];
  private queue: MetricDatum[] = [];
  private timer: Timer | undefined;
  private flushing: Promise<void> | undefined;
  private nextCallAt = Number.NEGATIVE_INFINITY;
  private abort: AbortController | undefined;

  constructor(private readonly options: CloudWatchPublisherOptions) {
    this.intervalMs = options.intervalMs ?? CLOUDWATCH_INTERVAL_MS;
    this.maxPerCall = Math.min(
      options.maxDatumsPerCall ?? CLOUDWATCH_MAX_DATUMS_PER_CALL,
      CLOUDWATCH_MAX_DATUMS_PER_CALL,
    );
    this.spacingMs = options.minCallSpacingMs ?? CLOUDWATCH_MIN_CALL_SPACING_MS;
    this.maxQueued = options.maxQueuedDatums ?? CLOUDWATCH_MAX_QUEUED_DATUMS;
    this.common = options.dimensions ?? [];
    if (this.intervalMs <= 0 || this.maxPerCall <= 0 || this.maxQueued <= 0) {
      throw new Error('CloudWatch publisher: interval, batch size and queue bound must be positive');
    }
  }

  /** Starts sampling every interval (the first sample one interval from now). */
  start(): void {
    if (this.abort) throw new Error('CloudWatch publisher already started');
    this.abort = new AbortController();
    this.schedule();
  }

  /** Stops the timer and any wait or call in flight; queued data are not sent. */
  async close(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    this.abort?.abort();
    await this.flushing;
  }

  /** Data waiting to be sent (for tests and introspection). */
  queued(): number {
    return this.queue.length;
  }

  /** One sampling round: what the timer does each interval. */
  tick(): void {
    try {
      this.enqueue(this.options.sample());
    } catch (err) {
      this.options.log?.warn({ err }, 'CloudWatch: sampling the gauges failed');
      this.options.stats?.putFailed('SampleFailed');
    }
    this.kick();
  }

  private schedule(): void {
    this.timer = this.options.clock.setTimer(this.intervalMs, () => {
      if (this.abort?.signal.aborted) return;
      this.tick();
      this.schedule();
    });
  }

  private enqueue(samples: readonly CloudWatchSample[]): void {
    const timestamp = new Date(this.options.clock.now());
    for (const sample of samples) {
      // CloudWatch rejects NaN and infinities: one bad value must not sink the whole batch.
      if (!Number.isFinite(sample.value)) continue;
      this.queue.push({
        name: sample.name,
        dimensions: [...this.common, ...(sample.dimensions ?? [])],
        timestamp,
        value: sample.value,
      });
    }
    this.trim();
  }

  private trim(): void {
    const excess = this.queue.length - this.maxQueued;
    if (excess <= 0) return;
    this.queue.splice(0, excess);
    this.options.stats?.datumsDropped(excess);
  }

  private kick(): void {
    if (this.flushing || !this.abort || this.abort.signal.aborted) return;
    this.flushing = this.drain(this.abort.signal).finally(() => {
      this.flushing = undefined;
    });
  }

  private async drain(signal: AbortSignal): Promise<void> {
    const { clock, sink } = this.options;
    while (this.queue.length > 0 && !signal.aborted) {
      const wait = this.nextCallAt - clock.now();
      if (wait > 0) {
        try {
          await clock.sleep(wait, signal);
        } catch (err) {
          if (isAbortError(err)) return;
          throw err;
        }
      }
      const batch = this.queue.splice(0, this.maxPerCall);
      this.nextCallAt = clock.now() + this.spacingMs;
      try {
        await sink.put(this.options.namespace, batch, signal);
      } catch (err) {
        if (signal.aborted) return;
        this.failed(batch, err);
        // Whatever failed, wait for the next interval before calling again.
        return;
      }
    }
  }

  private failed(batch: MetricDatum[], err: unknown): void {
    const code = err instanceof CloudWatchError ? err.awsCode : 'Unknown';
    this.options.stats?.putFailed(code);
    if (err instanceof CloudWatchError && err.retryable) {
      this.queue.unshift(...batch);
      this.trim();
      this.options.log?.warn(
        { err, code, queued: this.queue.length },
        'CloudWatch: PutMetricData failed; retrying next interval',
      );
    } else {
      this.options.stats?.datumsDropped(batch.length);
      this.options.log?.warn(
        { err, code, dropped: batch.length },
        'CloudWatch: PutMetricData rejected; data dropped',
      );
    }
  }
}
