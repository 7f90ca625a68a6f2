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
