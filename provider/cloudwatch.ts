/**
 * The CloudWatch seam: PutMetricData, and whether a failed call is worth repeating (the AWS
 * error names themselves are in aws-errors.ts). The agent's publisher (agent/metrics/cloudwatch-publisher.ts) queues, batches
 * and paces; this file only speaks to AWS.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { isThrottlingCode } from './aws-errors.js';
import { CloudWatchError } from './errors.js';

/** One value of one metric at one instant; every gauge eni-ipam publishes is a count. */
export interface MetricDatum {
  readonly name: string;
  readonly dimensions: readonly { readonly name: string; readonly value: string }[];
  readonly timestamp: Date;
  readonly value: number;
}

export interface MetricsSink {
  /** Sends one batch; rejects with a CloudWatchError (or the abort reason when `signal` aborted). */
  put(namespace: string, data: readonly MetricDatum[], signal: AbortSignal): Promise<void>;
}

export class AwsCloudWatchMetrics implements MetricsSink {
  private readonly client: CloudWatchClient;

  /** Either a client of one's own (tests mock it) or the Region to build one for. */
  constructor(client: CloudWatchClient | { region: string }) {
    this.client =
      client instanceof CloudWatchClient ? client : new CloudWatchClient({ region: client.region });
  }

  async put(namespace: string, data: readonly MetricDatum[], signal: AbortSignal): Promise<void> {
    const command = new PutMetricDataCommand({
      Namespace: namespace,
      MetricData: data.map((d) => ({
        MetricName: d.name,
        Dimensions: d.dimensions.map((dim) => ({ Name: dim.name, Value: dim.value })),
        Timestamp: d.timestamp,
        Value: d.value,
        Unit: 'Count',
      })),
    });
    try {
      await this.client.send(command, { abortSignal: signal });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new CloudWatchError(awsCodeOf(err), isRetryable(err), err);
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

function awsCodeOf(err: unknown): string {
  if (err instanceof Error) return err.name === 'Error' ? 'Unknown' : err.name;
  return 'Unknown';
}

/** Throttling, a server fault or no answer at all (network): the same data may succeed later. */
function isRetryable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (isThrottlingCode(err.name)) return true;
  const details = err as Error & { $fault?: string; $metadata?: { httpStatusCode?: number } };
  if (details.$fault === 'server') return true;
  return details.$metadata?.httpStatusCode === undefined;
}
