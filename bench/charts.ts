/**
 * The charts of bench/RESULTS.md, from the runs' time series: time on x; pods waiting, addresses
 * free, EC2 calls or nodes not yet warm on y; eni-ipam and its comparison on the same axes.
 */
import type { SimBenchRun, SimSample } from './sim-bench.js';
import { lineChart, type ChartSeries } from './svg-chart.js';

export interface ChartFile {
  /** Relative to the results directory. */
  file: string;
  title: string;
  svg: string;
}

export interface ChartRuns {
  burst?: { ours: SimBenchRun; baseline: SimBenchRun };
  seed?: { ours: SimBenchRun; baseline: SimBenchRun };
  cluster?: { perNode: SimBenchRun; shared: SimBenchRun };
}

/** Seconds shown before the first pod, so the warm pool before the burst is visible. */
const LEAD_IN_MS = 5_000;

/** One series of a run: `value` of each sample from LEAD_IN_MS before the first pod, x in seconds since it. */
export function seriesOf(name: string, run: SimBenchRun, value: (s: SimSample) => number): ChartSeries {
  return {
    name,
    points: run.samples
      .filter((s) => s.atMs >= run.firstPodAtMs - LEAD_IN_MS)
      .map((s) => [(s.atMs - run.firstPodAtMs) / 1000, value(s)] as const),
  };
}

/** Nodes whose warm target was not yet met at each sample (a node counts as warm from when it last became so). */
export function notWarmSeries(name: string, run: SimBenchRun): ChartSeries {
  return {
    name,
    points: run.samples.map(
      (s) =>
        [s.atMs / 1000, run.warmTargetMetAtMs.filter((t) => t === undefined || t > s.atMs).length] as const,
    ),
  };
}

function pair(
  prefix: string,
  label: string,
  runs: { ours: SimBenchRun; baseline: SimBenchRun },
  chartsWanted: readonly ['waiting' | 'free' | 'calls', string][],
): ChartFile[] {
  const pick = {
    waiting: (s: SimSample) => s.podsWaiting,
    free: (s: SimSample) => s.addressesFree,
    calls: (s: SimSample) => s.mutatingCalls,
  };
  return chartsWanted.map(([kind, yLabel]) => {
    const title = `${label}: ${yLabel}`;
    return {
      file: `charts/${prefix}-${kind}.svg`,
      title,
      svg: lineChart({
        title,
        xLabel: 'seconds since the pods arrived',
        yLabel,
        series: [
          seriesOf('eni-ipam', runs.ours, pick[kind]),
          seriesOf('baseline (VPC CNI model)', runs.baseline, pick[kind]),
        ],
      }),
    };
  });
}

export function chartsOf(runs: ChartRuns): ChartFile[] {
  const charts: ChartFile[] = [];
  if (runs.burst) {
    charts.push(
      ...pair('burst', '200 pods on an m5.4xlarge', runs.burst, [
        ['waiting', 'pods waiting for an address'],
        ['free', 'addresses free'],
        ['calls', 'mutating EC2 calls (cumulative)'],
      ]),
    );
  }
  if (runs.seed) {
    charts.push(
      ...pair('seed', '27 pods on an m5.large', runs.seed, [
        ['waiting', 'pods waiting for an address'],
        ['free', 'addresses free'],
      ]),
    );
  }
  if (runs.cluster) {
    const { perNode, shared } = runs.cluster;
    const nodes = perNode.warmTargetMetAtMs.length;
    charts.push({
      file: 'charts/cluster-not-warm.svg',
      title: `${nodes} nodes: nodes not yet at their warm target`,
      svg: lineChart({
        title: `${nodes} nodes starting at once: nodes not yet at their warm target`,
        xLabel: 'seconds since the nodes started',
        yLabel: 'nodes not warm',
        series: [
          notWarmSeries('(a) per-node limiters', perNode),
          notWarmSeries('(b) one shared budget', shared),
        ],
      }),
    });
    const calls = (name: string, run: SimBenchRun, value: (s: SimSample) => number): ChartSeries => ({
      name,
      points: run.samples.map((s) => [s.atMs / 1000, value(s)] as const),
    });
    charts.push({
      file: 'charts/cluster-ec2-calls.svg',
      title: `${nodes} nodes: EC2 calls and RequestLimitExceeded`,
      svg: lineChart({
        title: `${nodes} nodes: EC2 requests and RequestLimitExceeded (cumulative)`,
        xLabel: 'seconds since the nodes started',
        yLabel: 'requests',
        series: [
          calls('(a) all requests', perNode, (s) => s.ec2Calls),
          calls('(a) RequestLimitExceeded', perNode, (s) => s.throttled),
          calls('(b) all requests', shared, (s) => s.ec2Calls),
          calls('(b) RequestLimitExceeded', shared, (s) => s.throttled),
        ],
      }),
    });
  }
  return charts;
}
