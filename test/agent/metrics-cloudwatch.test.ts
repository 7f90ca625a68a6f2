import {
  CloudWatchClient,
  CloudWatchServiceException,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudWatchPublisher, type PublisherStats } from '../../agent/metrics/cloudwatch-publisher.js';
import { AwsCloudWatchMetrics } from '../../provider/cloudwatch.js';
import {
  cloudWatchSamples,
  cloudWatchTarget,
  keyGaugeSamples,
  type CloudWatchSample,
} from '../../agent/metrics/cloudwatch-samples.js';
import type { MetricsSnapshot } from '../../agent/metrics/metrics-source.js';
import { ManualClock } from '../../time/manual-clock.js';

const cw = mockClient(CloudWatchClient);

class RecordingStats implements PublisherStats {
  failures: string[] = [];
  dropped = 0;
  putFailed(code: string): void {
    this.failures.push(code);
  }
  datumsDropped(count: number): void {
    this.dropped += count;
  }
}

function serviceError(name: string, fault: 'client' | 'server', status: number): CloudWatchServiceException {
  return new CloudWatchServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

const MINUTE = 60_000;

describe('CloudWatchPublisher', () => {
  let clock: ManualClock;
  let stats: RecordingStats;
  let publisher: CloudWatchPublisher | undefined;

  beforeEach(() => {
    cw.reset();
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    stats = new RecordingStats();
  });
  afterEach(async () => {
    await publisher?.close();
    publisher = undefined;
  });

  function start(
    sample: () => CloudWatchSample[],
    options: { maxDatumsPerCall?: number; maxQueuedDatums?: number } = {},
  ) {
    publisher = new CloudWatchPublisher({
      sink: new AwsCloudWatchMetrics(new CloudWatchClient({ region: 'us-east-1' })),
      clock,
      sample,
      namespace: 'EniIpam',
      dimensions: [{ name: 'ClusterName', value: 'prod' }],
      stats,
      ...options,
    });
    publisher.start();
    return publisher;
  }

  const calls = () => cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);

  it('publishes each interval with the namespace, common dimensions, timestamp and unit', async () => {
    cw.on(PutMetricDataCommand).resolves({});
    start(() => [
      { name: 'assignIPAddresses', value: 5 },
      { name: 'subnetFreeIPAddresses', value: 200, dimensions: [{ name: 'SubnetId', value: 'subnet-1' }] },
    ]);
    await clock.advance(MINUTE - 1);
    expect(calls()).toHaveLength(0);
    await clock.advance(1);
    expect(calls()).toEqual([
      {
        Namespace: 'EniIpam',
        MetricData: [
          {
            MetricName: 'assignIPAddresses',
            Dimensions: [{ Name: 'ClusterName', Value: 'prod' }],
            Timestamp: new Date(Date.UTC(2026, 0, 1) + MINUTE),
            Value: 5,
            Unit: 'Count',
          },
          {
            MetricName: 'subnetFreeIPAddresses',
            Dimensions: [
              { Name: 'ClusterName', Value: 'prod' },
              { Name: 'SubnetId', Value: 'subnet-1' },
            ],
            Timestamp: new Date(Date.UTC(2026, 0, 1) + MINUTE),
            Value: 200,
            Unit: 'Count',
          },
        ],
      },
    ]);
    await clock.advance(MINUTE);
    expect(calls()).toHaveLength(2);
    expect(publisher?.queued()).toBe(0);
  });

  it('splits a backlog into calls of at most the batch size, spaced by the rate limit', async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const many = Array.from({ length: 2500 }, (_, i) => ({ name: `m${i}`, value: i }));
    start(() => many, { maxQueuedDatums: 10_000 });
    await clock.advance(MINUTE);
    // The first call goes at once; the others wait for the 1 s spacing.
    expect(calls().map((c) => c.MetricData?.length)).toEqual([1000]);
    await clock.advance(999);
    expect(calls()).toHaveLength(1);
    await clock.advance(1);
    expect(calls().map((c) => c.MetricData?.length)).toEqual([1000, 1000]);
    await clock.advance(1000);
    expect(calls().map((c) => c.MetricData?.length)).toEqual([1000, 1000, 500]);
    // Order preserved: the last call ends with the last sample.
    expect(calls()[2]?.MetricData?.at(-1)?.MetricName).toBe('m2499');
  });

  it('never sends more than CloudWatch accepts per call, whatever it is configured with', async () => {
    cw.on(PutMetricDataCommand).resolves({});
    start(() => Array.from({ length: 1500 }, (_, i) => ({ name: `m${i}`, value: 1 })), {
      maxDatumsPerCall: 5000,
    });
    await clock.advance(MINUTE + 1000);
    expect(calls().map((c) => c.MetricData?.length)).toEqual([1000, 500]);
  });

  it('keeps the data after throttling and sends them with the next interval', async () => {
    cw.on(PutMetricDataCommand)
      .rejectsOnce(serviceError('Throttling', 'client', 400))
      .resolves({});
    let n = 0;
    start(() => [{ name: 'assignIPAddresses', value: ++n }]);
    await clock.advance(MINUTE);
    expect(calls()).toHaveLength(1);
    expect(stats.failures).toEqual(['Throttling']);
    expect(publisher?.queued()).toBe(1);
    // No retry storm: nothing more until the next interval.
    await clock.advance(MINUTE - 1);
    expect(calls()).toHaveLength(1);
    await clock.advance(1);
    expect(calls()).toHaveLength(2);
    expect(calls()[1]?.MetricData?.map((d) => d.Value)).toEqual([1, 2]);
    expect(stats.dropped).toBe(0);
  });

  it('keeps the data after a server fault or a network error', async () => {
    const network = new Error('socket hang up');
    network.name = 'TimeoutError';
    cw.on(PutMetricDataCommand)
      .rejectsOnce(serviceError('InternalServiceError', 'server', 500))
      .rejectsOnce(network)
      .resolves({});
    start(() => [{ name: 'x', value: 1 }]);
    await clock.advance(3 * MINUTE);
    expect(stats.failures).toEqual(['InternalServiceError', 'TimeoutError']);
    expect(calls()[2]?.MetricData).toHaveLength(3);
    expect(publisher?.queued()).toBe(0);
  });

  it('drops and counts data CloudWatch rejects, and keeps going', async () => {
    cw.on(PutMetricDataCommand)
      .rejectsOnce(serviceError('InvalidParameterValue', 'client', 400))
      .resolves({});
    start(() => [
      { name: 'a', value: 1 },
      { name: 'b', value: 2 },
    ]);
    await clock.advance(MINUTE);
    expect(stats.failures).toEqual(['InvalidParameterValue']);
    expect(stats.dropped).toBe(2);
    expect(publisher?.queued()).toBe(0);
    await clock.advance(MINUTE);
    expect(calls()).toHaveLength(2);
    expect(calls()[1]?.MetricData).toHaveLength(2);
  });

  it('bounds the queue while CloudWatch is down: the oldest data go first, counted', async () => {
    cw.on(PutMetricDataCommand).rejects(serviceError('ServiceUnavailable', 'server', 503));
    let n = 0;
    start(
      () => [
        { name: 'a', value: ++n },
        { name: 'b', value: n },
      ],
      { maxQueuedDatums: 5 },
    );
    await clock.advance(4 * MINUTE);
    expect(publisher?.queued()).toBe(5);
    expect(stats.dropped).toBe(3);
    cw.reset();
    cw.on(PutMetricDataCommand).resolves({});
    await clock.advance(MINUTE);
    // Queue held rounds 2-4 minus the oldest, then round 5 arrived and pushed out one more.
    expect(calls()[0]?.MetricData?.map((d) => `${d.MetricName ?? ''}${d.Value ?? ''}`)).toEqual([
      'b3',
      'a4',
      'b4',
      'a5',
      'b5',
    ]);
  });

  it('skips values CloudWatch would reject (NaN, infinity) instead of failing the batch', async () => {
    cw.on(PutMetricDataCommand).resolves({});
    start(() => [
      { name: 'ok', value: 1 },
      { name: 'bad', value: Number.NaN },
      { name: 'worse', value: Number.POSITIVE_INFINITY },
    ]);
    await clock.advance(MINUTE);
    expect(calls()[0]?.MetricData?.map((d) => d.MetricName)).toEqual(['ok']);
  });

  it('survives a sampling function that throws', async () => {
    cw.on(PutMetricDataCommand).resolves({});
    let fail = true;
    start(() => {
      if (fail) throw new Error('datastore busy');
      return [{ name: 'ok', value: 1 }];
    });
    await clock.advance(MINUTE);
    expect(stats.failures).toEqual(['SampleFailed']);
    fail = false;
    await clock.advance(MINUTE);
    expect(calls()).toHaveLength(1);
  });

  it('close() stops the timer and abandons a rate-limit wait', async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const p = start(() => Array.from({ length: 1500 }, (_, i) => ({ name: `m${i}`, value: 1 })));
    await clock.advance(MINUTE);
    expect(calls()).toHaveLength(1);
    await p.close();
    await clock.advance(10 * MINUTE);
    expect(calls()).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('keyGaugeSamples', () => {
  it('maps a snapshot to the cni-metrics-helper names plus ours', () => {
    const snapshot: MetricsSnapshot = {
      maxEnis: 3,
      maxIps: 27,
      maxPods: 29,
      enis: [
        { eniId: 'eni-a', ips: 9, prefixes: 0, assigned: 5, cooling: 1 },
        { eniId: 'eni-b', ips: 0, prefixes: 1, assigned: 2, cooling: 0 },
      ],
      waitingAdds: 1,
      subnets: [{ subnetId: 'subnet-1', free: 42 }],
    };
    expect(keyGaugeSamples(snapshot)).toEqual([
      { name: 'eniAllocated', value: 2 },
      { name: 'eniMaxAvailable', value: 3 },
      { name: 'maxIPAddresses', value: 27 },
      { name: 'totalIPAddresses', value: 25 },
      { name: 'assignIPAddresses', value: 7 },
      { name: 'totalIPv4Prefixes', value: 1 },
      { name: 'coolingIPAddresses', value: 1 },
      { name: 'freeIPAddresses', value: 17 },
      { name: 'addsWaiting', value: 1 },
      { name: 'subnetFreeIPAddresses', value: 42, dimensions: [{ name: 'SubnetId', value: 'subnet-1' }] },
    ]);
  });
});

describe('CloudWatch format and aggregation', () => {
  const snapshot: MetricsSnapshot = {
    maxEnis: 3,
    maxIps: 27,
    maxPods: 29,
    enis: [{ eniId: 'eni-a', ips: 9, prefixes: 0, assigned: 5, cooling: 1 }],
    waitingAdds: 0,
    subnets: [{ subnetId: 'subnet-1', free: 200 }],
  };
  const base = { namespace: 'eni-ipam', clusterName: 'prod', instanceId: 'i-0abc' };

  it('as cni-metrics-helper: its namespace, its CLUSTER_ID dimension and only the gauges it publishes', () => {
    expect(cloudWatchTarget({ ...base, format: 'cni-metrics-helper', aggregation: 'cluster' })).toEqual({
      namespace: 'Kubernetes',
      dimensions: [{ name: 'CLUSTER_ID', value: 'prod' }],
    });
    expect(cloudWatchSamples(snapshot, 'cni-metrics-helper')).toEqual([
      { name: 'eniAllocated', value: 1 },
      { name: 'eniMaxAvailable', value: 3 },
      { name: 'maxIPAddresses', value: 27 },
      { name: 'totalIPAddresses', value: 9 },
      { name: 'assignIPAddresses', value: 5 },
      { name: 'totalIPv4Prefixes', value: 0 },
    ]);
  });

  it('per instance adds the InstanceId dimension; per cluster leaves only the cluster', () => {
    expect(cloudWatchTarget({ ...base, format: 'eni-ipam', aggregation: 'instance' })).toEqual({
      namespace: 'eni-ipam',
      dimensions: [
        { name: 'ClusterName', value: 'prod' },
        { name: 'InstanceId', value: 'i-0abc' },
      ],
    });
    expect(cloudWatchTarget({ ...base, format: 'eni-ipam', aggregation: 'cluster' })).toEqual({
      namespace: 'eni-ipam',
      dimensions: [{ name: 'ClusterName', value: 'prod' }],
    });
    expect(
      cloudWatchTarget({ ...base, format: 'cni-metrics-helper', aggregation: 'instance' }).dimensions,
    ).toEqual([
      { name: 'CLUSTER_ID', value: 'prod' },
      { name: 'InstanceId', value: 'i-0abc' },
    ]);
    expect(cloudWatchSamples(snapshot, 'eni-ipam')).toEqual(keyGaugeSamples(snapshot));
  });

  it('without a cluster name: per instance works, per cluster and the helper format cannot', () => {
    const noCluster = { ...base, clusterName: undefined };
    expect(
      cloudWatchTarget({ ...noCluster, format: 'eni-ipam', aggregation: 'instance' }).dimensions,
    ).toEqual([{ name: 'InstanceId', value: 'i-0abc' }]);
    expect(() => cloudWatchTarget({ ...noCluster, format: 'eni-ipam', aggregation: 'cluster' })).toThrow(
      /cluster name/,
    );
    expect(() =>
      cloudWatchTarget({ ...noCluster, format: 'cni-metrics-helper', aggregation: 'cluster' }),
    ).toThrow(/cluster name/);
  });
});
