import { nodeTotals, type MetricsSnapshot } from './metrics-source.js';

/** One value to publish; the publisher adds the namespace, common dimensions and timestamp. */
export interface CloudWatchSample {
  name: string;
  value: number;
  /** Dimensions of this sample only (e.g. the subnet), added to the publisher's common ones. */
  dimensions?: readonly { name: string; value: string }[];
}

/**
 * The key gauges worth paying CloudWatch for (each metric and dimension set is a billed custom
 * metric). Where the AWS VPC CNI's cni-metrics-helper publishes the same quantity, its metric name
 * is used (eniAllocated, eniMaxAvailable, maxIPAddresses, totalIPAddresses, assignIPAddresses).
 */
export function keyGaugeSamples(snapshot: MetricsSnapshot): CloudWatchSample[] {
  const totals = nodeTotals(snapshot);
  const samples: CloudWatchSample[] = [
    { name: 'eniAllocated', value: totals.enis },
    { name: 'eniMaxAvailable', value: snapshot.maxEnis },
    { name: 'maxIPAddresses', value: snapshot.maxIps },
    { name: 'totalIPAddresses', value: totals.addresses },
    { name: 'assignIPAddresses', value: totals.assigned },
    { name: 'totalIPv4Prefixes', value: totals.prefixes },
    { name: 'coolingIPAddresses', value: totals.cooling },
    { name: 'freeIPAddresses', value: totals.free },
    { name: 'addsWaiting', value: snapshot.waitingAdds },
  ];
  for (const subnet of snapshot.subnets) {
    samples.push({
      name: 'subnetFreeIPAddresses',
      value: subnet.free,
      dimensions: [{ name: 'SubnetId', value: subnet.subnetId }],
    });
  }
  return samples;
}

/**
 * Which names and dimensions to publish under. `eni-ipam`: our namespace and every key gauge.
 * `cni-metrics-helper`: what the AWS VPC CNI's cni-metrics-helper publishes, so CloudWatch
 * dashboards and alarms built on it keep working: namespace `Kubernetes`, dimension `CLUSTER_ID`,
 * and only the gauges it has (its counters, such as addReqCount, are not published).
 */
export type CloudWatchFormat = 'eni-ipam' | 'cni-metrics-helper';

/**
 * `instance`: one metric per node (an InstanceId dimension), billed per node. `cluster`: every node
 * publishes under the same dimensions, so CloudWatch aggregates them: Sum over a period is the
 * cluster's total, SampleCount the number of nodes reporting, Maximum the busiest node.
 */
export type CloudWatchAggregation = 'instance' | 'cluster';

export const CNI_METRICS_HELPER_NAMESPACE = 'Kubernetes';
export const CNI_METRICS_HELPER_CLUSTER_DIMENSION = 'CLUSTER_ID';

/** The gauges cni-metrics-helper publishes, by the names it uses. */
const CNI_METRICS_HELPER_GAUGES: ReadonlySet<string> = new Set([
  'eniAllocated',
  'eniMaxAvailable',
  'maxIPAddresses',
  'totalIPAddresses',
  'assignIPAddresses',
  'totalIPv4Prefixes',
]);

export interface CloudWatchTargetOptions {
  format: CloudWatchFormat;
  aggregation: CloudWatchAggregation;
  /** ENI_IPAM_CLOUDWATCH_NAMESPACE; the cni-metrics-helper format has its own. */
  namespace: string;
  /** Required by the cni-metrics-helper format and by cluster aggregation (the config checks). */
  clusterName: string | undefined;
  instanceId: string;
}

export interface CloudWatchTarget {
  namespace: string;
  /** On every datum. */
  dimensions: { name: string; value: string }[];
}

/** The namespace and common dimensions of a format and aggregation. */
export function cloudWatchTarget(options: CloudWatchTargetOptions): CloudWatchTarget {
  const { format, aggregation, clusterName, instanceId } = options;
  const perInstance = aggregation === 'instance' ? [{ name: 'InstanceId', value: instanceId }] : [];
  if (clusterName === undefined) {
    if (format === 'cni-metrics-helper' || aggregation === 'cluster') {
      throw new Error(`CloudWatch format ${format} with ${aggregation} aggregation needs the cluster name`);
    }
    return { namespace: options.namespace, dimensions: perInstance };
  }
  const cluster =
    format === 'cni-metrics-helper'
      ? { name: CNI_METRICS_HELPER_CLUSTER_DIMENSION, value: clusterName }
      : { name: 'ClusterName', value: clusterName };
  return {
    namespace: format === 'cni-metrics-helper' ? CNI_METRICS_HELPER_NAMESPACE : options.namespace,
    dimensions: [cluster, ...perInstance],
  };
}

/** The samples of one interval in a format. */
export function cloudWatchSamples(snapshot: MetricsSnapshot, format: CloudWatchFormat): CloudWatchSample[] {
  const samples = keyGaugeSamples(snapshot);
  return format === 'cni-metrics-helper'
    ? samples.filter((s) => CNI_METRICS_HELPER_GAUGES.has(s.name))
    : samples;
}
