import { describe, expect, it } from 'vitest';
import type { AddBurstResult } from '../../bench/agent-add-burst.js';
import { growthOf, type ChurnResult } from '../../bench/churn.js';
import type { CniLatencyResult } from '../../bench/cni-latency.js';
import type { FootprintResult } from '../../bench/footprint.js';
import {
  addBurstTargets,
  baselineTargets,
  bucketMinimumSeconds,
  burstTargets,
  churnTargets,
  clusterFigures,
  clusterTargets,
  cniTargets,
  footprintTargets,
  startupTargets,
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
  const result = (shipped: number | undefined, other = 30): CniLatencyResult => ({
    pairs: 10,
    add: summary(90),
    del: summary(90),
    bareNode: summary(40),
    version: summary(35),
    executables: [
      { label: 'single executable, snapshot', shipped: false, add: summary(other), del: summary(other) },
      ...(shipped === undefined
        ? []
        : [
            {
              label: 'single executable, code-cache',
              shipped: true,
              add: summary(shipped),
              del: summary(shipped),
            },
          ]),
    ],
    failures: 0,
  });

  it('holds the shipped executable to 1.25 x the bare start-up p99, whatever the script or the alternatives measure', () => {
    expect(cniTargets(result(50)).map((t) => t.met)).toEqual([true, true]);
    expect(cniTargets(result(50.1, 10)).map((t) => t.met)).toEqual([false, true]);
    expect(cniTargets(result(undefined, 10)).map((t) => t.met)).toEqual([false, true]);
  });
});

describe('footprint, start-up, churn and agent ADD targets', () => {
  const window = (rss: number) => ({ rssMaxMb: rss, rssEndMb: rss, cpuPercent: 0.1 });
  const footprint = (
    rss: number,
    shipped: boolean,
    startupMs = 900,
    metric: number | undefined = 0.8,
  ): FootprintResult => ({
    instanceType: 'm5.8xlarge',
    env: { ENABLE_PREFIX_DELEGATION: 'true' },
    pods: 250,
    program: { label: 'x', command: 'node x agent', shipped },
    addresses: 256,
    assigned: 250,
    idle: window(rss - 2),
    loaded: window(rss),
    startup: { servedMs: startupMs, metricSeconds: metric },
  });

  it('checks RSS <= 80 MB on the shipped agent only', () => {
    expect(footprintTargets(footprint(80, true)).map((t) => t.met)).toEqual([true, true]);
    expect(footprintTargets(footprint(80.5, true)).map((t) => t.met)).toEqual([false, true]);
    expect(footprintTargets(footprint(200, false))).toEqual([]);
  });

  it('needs both the measured start-up and the exported metric within 1.5 s', () => {
    expect(startupTargets(footprint(70, true, 1500, 1.4)).map((t) => t.met)).toEqual([true]);
    expect(startupTargets(footprint(70, true, 1501, 1.4)).map((t) => t.met)).toEqual([false]);
    const noMetric = { ...footprint(70, true, 900), startup: { servedMs: 900, metricSeconds: undefined } };
    expect(startupTargets(noMetric).map((t) => t.met)).toEqual([false]);
  });

  it('misses churn growth above 5 %, a failed call, or a run cut short', () => {
    const churn = (growthPercent: number, pairs = 100, failedCalls = 0): ChurnResult => ({
      command: 'node x agent',
      instanceType: 'm5.8xlarge',
      pairsRequested: 100,
      pairs,
      failedCalls,
      wallSeconds: 10,
      resyncs: 10,
      watchRestarts: 10,
      startRssMb: 70,
      endRssMb: 70 * (1 + growthPercent / 100),
      growthPercent,
      series: [],
    });
    expect(churnTargets(churn(5))[0]?.met).toBe(true);
    expect(churnTargets(churn(5.1))[0]?.met).toBe(false);
    expect(churnTargets(churn(1, 99))[0]?.met).toBe(false);
    expect(churnTargets(churn(1, 100, 1))[0]?.met).toBe(false);
  });

  it("holds the agent-side ADD p99 to 2 ms as the agent measured it, whatever the client's connection queue adds", () => {
    const s = (p99: number) => ({ n: 1000, p50: 0.5, p99, max: p99, mean: 0.6 });
    const burst = (agentP99: number, failures = 0): AddBurstResult => ({
      command: 'node x agent',
      burst: 200,
      bursts: 5,
      agentSide: {
        add: s(agentP99),
        del: s(1),
        alone: s(0.3),
        addPerBurst: [s(agentP99 - 0.5), s(agentP99)],
      },
      add: s(90),
      del: s(40),
      alone: s(3),
      floor: s(26),
      failures,
    });
    expect(addBurstTargets(burst(2))[0]?.met).toBe(true);
    expect(addBurstTargets(burst(2.01))[0]?.met).toBe(false);
    expect(addBurstTargets(burst(1, 1))[0]?.met).toBe(false);
    expect(addBurstTargets(burst(1.5))[0]?.detail).toContain('p99 1.50 ms');
    expect(addBurstTargets(burst(1.5))[0]?.detail).toContain('p99 per burst 1.00-1.50 ms');
    expect(addBurstTargets(burst(1.5))[0]?.detail).not.toContain('main thread');
    const waited = { ...burst(3), agentThread: { runMs: 480.4, waitMs: 268.6 } };
    expect(addBurstTargets(waited)[0]?.detail).toContain(
      "the agent's main thread over the bursts: 480 ms on a CPU, 269 ms waiting for one",
    );
  });
});

describe('churn growth', () => {
  it('compares the highest RSS of the last tenth with the first tenth after warm-up', () => {
    const series: [number, number][] = [
      [0, 200],
      ...Array.from({ length: 100 }, (_, i): [number, number] => [
        100 + i * 10,
        i < 10 ? 60 : i >= 90 ? 63 : 80,
      ]),
    ];
    const g = growthOf(series, 100, 0.1);
    expect(g.start).toBe(60);
    expect(g.end).toBe(63);
    expect(g.percent).toBeCloseTo(5);
  });
});
