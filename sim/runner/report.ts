/** The report of `eni-ipam simulate` (issue 4's shape; docs/scenarios.md explains each number). */
import type { Ec2Stats } from '../stats.js';
import type { PodRecord } from './container-runtime.js';

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface EndChecks {
  /** Addresses assigned on the nodes' ENIs at EC2 that no datastore (live or on disk) knows. */
  leakedAddresses: number;
  /** ENIs of the cluster left `available` (created and never attached, or detached and not deleted). */
  leakedEnis: number;
  /** Addresses held by two live pods at once (as the runtime was told, or as the datastores say). */
  doubleAssignments: number;
  /** Addresses and ENIs a datastore counts that EC2 does not have on that node. */
  accountingMismatches: number;
}

export interface NodeReport {
  name: string;
  enis: number;
  addresses: number;
  assigned: number;
}

export interface ScenarioReport {
  pods: { requested: number; gotAddress: number; failedAdds: number; timeToAddressMs: Percentiles };
  ec2: { calls: Record<string, number>; throttled: number; errors: Record<string, number> };
  end: EndChecks;
  nodes: NodeReport[];
  simulatedSeconds: number;
  wallSeconds: number;
}

/** Nearest-rank percentiles; all zero for no samples. */
export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
  return { p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1] ?? 0 };
}

export function podsBlock(pods: readonly PodRecord[]): ScenarioReport['pods'] {
  const times: number[] = [];
  let failedAdds = 0;
  for (const pod of pods) {
    failedAdds += pod.failedAdds;
    if (pod.addressedAt !== undefined && pod.firstAddAt !== undefined)
      times.push(pod.addressedAt - pod.firstAddAt);
  }
  return {
    requested: pods.length,
    gotAddress: times.length,
    failedAdds,
    timeToAddressMs: percentiles(times),
  };
}

/** Keys sorted, so that two runs' reports compare as text. */
export function ec2Block(stats: Ec2Stats, before?: Ec2Stats): ScenarioReport['ec2'] {
  return {
    calls: sortedDelta(stats.calls, before?.calls),
    throttled: stats.throttled - (before?.throttled ?? 0),
    errors: sortedDelta(stats.errors, before?.errors),
  };
}

function sortedDelta(
  now: Record<string, number>,
  before: Record<string, number> | undefined,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(now).sort()) {
    const value = (now[key] ?? 0) - (before?.[key] ?? 0);
    if (value !== 0) out[key] = value;
  }
  return out;
}

/** The few lines on stderr after a run. */
export function summaryText(report: ScenarioReport): string {
  const { pods, ec2, end } = report;
  const calls = Object.values(ec2.calls).reduce((a, b) => a + b, 0);
  const errors = Object.entries(ec2.errors)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const t = pods.timeToAddressMs;
  const problems = end.leakedAddresses + end.leakedEnis + end.doubleAssignments + end.accountingMismatches;
  return [
    `pods: ${pods.gotAddress}/${pods.requested} got an address, ${pods.failedAdds} failed ADDs; time to address p50 ${t.p50} ms, p90 ${t.p90} ms, p99 ${t.p99} ms, max ${t.max} ms`,
    `ec2: ${calls} calls, ${ec2.throttled} throttled${errors === '' ? '' : `, errors: ${errors}`}`,
    `end: ${problems === 0 ? 'OK' : 'PROBLEMS'}: ${end.leakedAddresses} leaked addresses, ${end.leakedEnis} leaked ENIs, ${end.doubleAssignments} double assignments, ${end.accountingMismatches} accounting mismatches`,
    `${report.nodes.length} nodes, ${report.simulatedSeconds} s simulated in ${report.wallSeconds} s`,
  ].join('\n');
}
