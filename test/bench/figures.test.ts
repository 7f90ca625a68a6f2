import { describe, expect, it } from 'vitest';
import type { CniLatencyResult } from '../../bench/cni-latency.js';
import {
  baselineTargets,
  bucketMinimumSeconds,
  burstTargets,
  clusterFigures,
  clusterTargets,
  cniTargets,
  type BurstFigures,
} from '../../bench/figures.js';
import { markdownTable } from '../../bench/results-md.js';
import { physicalChainMs } from '../../bench/scenarios.js';
import { mutatingCalls, type SimBenchRun } from '../../bench/sim-bench.js';

function burst(fields: Partial<BurstFigures>): BurstFigures {
  return {
    label: 'x',
    requested: 200,
    gotAddress: 200,
    failedAdds: 0,
    p50Ms: 0,
    p99Ms: 0,
    maxMs: 0,
    enisAdded: 6,
    mutatingCalls: 18,
    mutatingCallsPerEni: 3,
    throttled: 0,
    simulatedSeconds: 60,
    wallMs: 1,
    ...fields,
  };
}

describe('the physical chain and the bucket-limited minimum', () => {
  it('chain = CreateNetworkInterface + AttachNetworkInterface + visibility, default latency for a missing action', () => {
    expect(
      physicalChainMs({ CreateNetworkInterface: 400, AttachNetworkInterface: 2000, default: 100 }, 1000),
    ).toBe(3400);
    expect(physicalChainMs({ default: 100 }, 0)).toBe(200);
  });

  it('500 attachments through a 50-token bucket refilled at 5/s need 90 s', () => {
    expect(bucketMinimumSeconds(500, 50, 5)).toBe(90);
    expect(bucketMinimumSeconds(30, 50, 5)).toBe(0);
  });

  it('counts mutating calls only', () => {
    expect(
      mutatingCalls({
        CreateNetworkInterface: 2,
        AttachNetworkInterface: 2,
        DescribeNetworkInterfaces: 40,
        AssignPrivateIpAddresses: 1,
      }),
    ).toBe(5);
  });
});

describe('targets', () => {
  it('burst: p99 within 1.25 x the chain is met at the bound and missed above it', () => {
    expect(burstTargets(burst({ p99Ms: 4250 }), 3400)[0]?.met).toBe(true);
    expect(burstTargets(burst({ p99Ms: 4251 }), 3400)[0]?.met).toBe(false);
  });

  it('burst: more than 3 mutating calls per ENI, or no ENI at all, misses', () => {
    expect(burstTargets(burst({ mutatingCallsPerEni: 3.2 }), 3400)[2]?.met).toBe(false);
    expect(burstTargets(burst({ mutatingCallsPerEni: undefined }), 3400)[2]?.met).toBe(false);
  });

  it('baseline: 3 x lower p99 is met, 2.9 x is not; a p99 of 0 beats any positive baseline', () => {
    expect(baselineTargets('b', burst({ p99Ms: 10_000 }), burst({ p99Ms: 30_000 }))[0]?.met).toBe(true);
    expect(baselineTargets('b', burst({ p99Ms: 10_000 }), burst({ p99Ms: 29_000 }))[0]?.met).toBe(false);
    expect(baselineTargets('b', burst({ p99Ms: 0 }), burst({ p99Ms: 5 }))[0]?.met).toBe(true);
  });

  it('baseline: failed ADDs count only where the baseline fails some', () => {
    expect(baselineTargets('b', burst({ failedAdds: 2 }), burst({ failedAdds: 50 }))[1]?.met).toBe(false);
    expect(baselineTargets('b', burst({ failedAdds: 0 }), burst({ failedAdds: 50 }))[1]?.met).toBe(true);
    expect(baselineTargets('b', burst({ failedAdds: 2 }), burst({ failedAdds: 0 }))[1]?.met).toBe(true);
  });
});

describe('markdownTable', () => {
  it('escapes pipes inside cells and pads columns as prettier does', () => {
    expect(markdownTable(['a', 'bb'], [['x|y', 'z']])).toBe(
      ['| a    | bb  |', '| ---- | --- |', '| x\\|y | z   |'].join('\n'),
    );
  });
});

describe('cluster figures', () => {
  const run = (warm: (number | undefined)[], calls: Record<string, number>, throttled = 0): SimBenchRun => ({
    pods: { requested: 0, gotAddress: 0, failedAdds: 0, timeToAddressMs: { p50: 0, p90: 0, p99: 0, max: 0 } },
    ec2: { calls, throttled, errors: {} },
    ec2SinceFirstPod: { calls, throttled, errors: {} },
    enisAtFirstPod: 0,
    enisAtEnd: 0,
    samples: [],
    end: { leakedAddresses: 0, leakedEnis: 0, doubleAssignments: 0, accountingMismatches: 0 },
    podRecords: [],
    secondaryEnisAtEnd: 0,
    warmTargetMetAtMs: warm,
    firstPodAtMs: 0,
    simulatedMs: 200_000,
    wallMs: 1,
  });

  it('all nodes warm at the last one; the busiest bucket is the one the calls made need longest', () => {
    const f = clusterFigures(
      'b',
      run([30_000, 95_000, 60_000], { AttachNetworkInterface: 500, DescribeNetworkInterfaces: 2500 }),
    );
    expect(f.allWarmSeconds).toBe(95);
    expect(f.medianWarmSeconds).toBe(60);
    expect(f.busiestBucket).toEqual({ api: 'DescribeNetworkInterfaces', calls: 2500, minimumSeconds: 120 });
    expect(clusterTargets(f, 90).map((t) => t.met)).toEqual([true, true]);
  });

  it('a node never warm, or one RequestLimitExceeded, misses', () => {
    const f = clusterFigures('b', run([30_000, undefined], { AttachNetworkInterface: 2 }, 1));
    expect(f.allWarmSeconds).toBeUndefined();
    expect(f.nodesNotWarm).toBe(1);
    expect(clusterTargets(f, 90).map((t) => t.met)).toEqual([false, false]);
  });
});

describe('CNI targets', () => {
  const summary = (p99: number) => ({ n: 10, p50: p99, p99, max: p99, mean: p99 });
  const result = (add: number, executable?: number): CniLatencyResult => ({
    pairs: 10,
    add: summary(add),
    del: summary(add),
    bareNode: summary(40),
    version: summary(35),
    executable: executable === undefined ? undefined : { add: summary(executable), del: summary(executable) },
    failures: 0,
  });

  it('compares p99 with 1.5 x the bare start-up p99, and the shipped executable only when measured', () => {
    expect(cniTargets(result(60)).map((t) => t.met)).toEqual([true, true]);
    expect(cniTargets(result(61)).map((t) => t.met)).toEqual([false, true]);
    expect(cniTargets(result(80, 50)).map((t) => t.met)).toEqual([false, true, true]);
  });
});
