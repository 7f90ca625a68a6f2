/**
 * The figures of each benchmark, computed from its runs, and the targets of issues 8 and 16
 * checked on them. Plain data in, plain data out: the report writers only format these.
 */
import { ACCOUNT_BUCKETS, EC2_APIS } from '../provider/rate-limits.js';
import type { AddBurstResult } from './agent-add-burst.js';
import type { ChurnResult } from './churn.js';
import type { CniLatencyResult } from './cni-latency.js';
import type { FootprintResult, ModuleLoadRss } from './footprint.js';
import { mutatingCalls, type SimBenchRun } from './sim-bench.js';
import { ratio } from './stats.js';

export interface Target {
  what: string;
  met: boolean;
  /** The measured value against the bound, in words. */
  detail: string;
}

export interface BurstFigures {
  label: string;
  requested: number;
  gotAddress: number;
  failedAdds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  enisAdded: number;
  mutatingCalls: number;
  mutatingCallsPerEni: number | undefined;
  throttled: number;
  simulatedSeconds: number;
  wallMs: number;
}

export function burstFigures(label: string, run: SimBenchRun): BurstFigures {
  const enisAdded = run.enisAtEnd - run.enisAtFirstPod;
  const calls = mutatingCalls(run.ec2SinceFirstPod.calls);
  const t = run.pods.timeToAddressMs;
  return {
    label,
    requested: run.pods.requested,
    gotAddress: run.pods.gotAddress,
    failedAdds: run.pods.failedAdds,
    p50Ms: t.p50,
    p99Ms: t.p99,
    maxMs: t.max,
    enisAdded,
    mutatingCalls: calls,
    mutatingCallsPerEni: ratio(calls, enisAdded),
    throttled: run.ec2.throttled,
    simulatedSeconds: run.simulatedMs / 1000,
    wallMs: run.wallMs,
  };
}

/** Issue 8, item 1: p99 <= 1.25 x the physical chain, no failed ADD, <= 3 mutating calls per ENI. */
export function burstTargets(f: BurstFigures, chainMs: number): Target[] {
  const perEni = f.mutatingCallsPerEni;
  return [
    {
      what: 'burst p99 <= 1.25 x physical chain',
      met: f.p99Ms <= 1.25 * chainMs,
      detail: `p99 ${f.p99Ms} ms = ${(f.p99Ms / chainMs).toFixed(2)} x chain ${chainMs} ms`,
    },
    { what: 'burst: 0 failed ADDs', met: f.failedAdds === 0, detail: `${f.failedAdds} failed ADDs` },
    {
      what: 'burst: <= 3 mutating EC2 calls per ENI added',
      met: perEni !== undefined && perEni <= 3,
      detail: `${f.mutatingCalls} calls / ${f.enisAdded} ENIs = ${perEni === undefined ? 'n/a' : perEni.toFixed(2)}`,
    },
  ];
}

/** Issue 8, item 2: p99 at least 3 x lower than the baseline's, and no failed ADD where it fails some. */
export function baselineTargets(scenario: string, ours: BurstFigures, baseline: BurstFigures): Target[] {
  const speedup = ratio(baseline.p99Ms, ours.p99Ms);
  return [
    {
      what: `${scenario}: p99 >= 3 x lower than the baseline`,
      // A p99 of 0 (every address there at once) is lower than any positive baseline.
      met: ours.p99Ms === 0 ? baseline.p99Ms > 0 : (speedup ?? 0) >= 3,
      detail: `baseline p99 ${baseline.p99Ms} ms / eni-ipam p99 ${ours.p99Ms} ms = ${speedup === undefined ? 'inf' : speedup.toFixed(1)} x`,
    },
    {
      what: `${scenario}: 0 failed ADDs where the baseline fails some`,
      met: baseline.failedAdds === 0 || ours.failedAdds === 0,
      detail: `eni-ipam ${ours.failedAdds}, baseline ${baseline.failedAdds}`,
    },
  ];
}

export interface ClusterFigures {
  label: string;
  nodes: number;
  /** When the last node became warm (s since launch); undefined: some never did. */
  allWarmSeconds: number | undefined;
  nodesNotWarm: number;
  medianWarmSeconds: number | undefined;
  requestLimitExceeded: number;
  attachCalls: number;
  describeCalls: number;
  /** The bucket the calls made would have needed longest to pass, even perfectly paced. */
  busiestBucket: { api: string; calls: number; minimumSeconds: number };
  simulatedSeconds: number;
  wallMs: number;
}

/**
 * Time a bucket needs for `calls` requests at best: the burst goes at once, the rest at the refill
 * rate. Issue 8's bucket-limited minimum is this for AttachNetworkInterface with one call per node.
 */
export function bucketMinimumSeconds(calls: number, size: number, refillPerSecond: number): number {
  return Math.max(0, calls - size) / refillPerSecond;
}

export function clusterFigures(label: string, run: SimBenchRun): ClusterFigures {
  const warm = run.warmTargetMetAtMs;
  const met = warm.filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  const calls = run.ec2.calls;
  let busiest = { api: 'none', calls: 0, minimumSeconds: 0 };
  for (const api of EC2_APIS) {
    const n = calls[api] ?? 0;
    const bucket = ACCOUNT_BUCKETS[api];
    const minimumSeconds = bucketMinimumSeconds(n, bucket.size, bucket.refillPerSecond);
    if (minimumSeconds > busiest.minimumSeconds) busiest = { api, calls: n, minimumSeconds };
  }
  return {
    label,
    nodes: warm.length,
    allWarmSeconds:
      met.length === warm.length && met.length > 0 ? (met[met.length - 1] ?? 0) / 1000 : undefined,
    nodesNotWarm: warm.length - met.length,
    medianWarmSeconds: met.length > 0 ? (met[Math.ceil(met.length / 2) - 1] ?? 0) / 1000 : undefined,
    requestLimitExceeded: run.ec2.throttled,
    attachCalls: calls['AttachNetworkInterface'] ?? 0,
    describeCalls: Object.entries(calls)
      .filter(([action]) => action.startsWith('Describe'))
      .reduce((n, [, v]) => n + v, 0),
    busiestBucket: busiest,
    simulatedSeconds: run.simulatedMs / 1000,
    wallMs: run.wallMs,
  };
}

/** Issue 8, item 5 (b): within 1.15 x the AttachNetworkInterface bucket's minimum, no RequestLimitExceeded. */
export function clusterTargets(shared: ClusterFigures, minimumSeconds: number): Target[] {
  const all = shared.allWarmSeconds;
  return [
    {
      what: 'cluster (shared budget): all nodes warm within 1.15 x bucket-limited minimum',
      met: all !== undefined && all <= 1.15 * minimumSeconds,
      detail:
        all === undefined
          ? `${shared.nodesNotWarm} nodes never warm`
          : `${all.toFixed(1)} s = ${(all / minimumSeconds).toFixed(2)} x minimum ${minimumSeconds.toFixed(1)} s`,
    },
    {
      what: 'cluster (shared budget): 0 RequestLimitExceeded',
      met: shared.requestLimitExceeded === 0,
      detail: `${shared.requestLimitExceeded} RequestLimitExceeded`,
    },
  ];
}

/** The plugin's bound (issue 16): p99 of ADD and DEL at most 1.25 x a bare node start-up's p99. */
export const PLUGIN_P99_BOUND = 1.25;

/** Issue 16: the shipped plugin p99 <= 1.25 x bare node start-up; every call succeeded. */
export function cniTargets(r: CniLatencyResult): Target[] {
  const bare = r.bareNode.p99;
  const shipped = r.executables.find((e) => e.shipped);
  const worst = shipped === undefined ? undefined : Math.max(shipped.add.p99, shipped.del.p99);
  return [
    {
      what: `CNI plugin as shipped (${shipped?.label ?? 'single executable'}) p99 (ADD and DEL) <= ${PLUGIN_P99_BOUND} x bare node start-up p99`,
      met: worst !== undefined && worst <= PLUGIN_P99_BOUND * bare,
      detail:
        shipped === undefined || worst === undefined
          ? 'the shipped executable could not be built'
          : `ADD p99 ${shipped.add.p99.toFixed(1)} ms, DEL p99 ${shipped.del.p99.toFixed(1)} ms vs bare node p99 ${bare.toFixed(1)} ms (${(worst / bare).toFixed(2)} x)`,
    },
    { what: 'CNI plugin: every call succeeded', met: r.failures === 0, detail: `${r.failures} failed calls` },
  ];
}

/** Issue 16: agent RSS at most 80 MB. */
export const AGENT_RSS_BOUND_MB = 80;

/** Issue 16: RSS <= 80 MB and idle CPU < 1 %, for the agent run as shipped. */
export function footprintTargets(r: FootprintResult): Target[] {
  if (!r.program.shipped) return [];
  if (r.failed !== undefined)
    return [{ what: `footprint ${r.instanceType}: the shipped agent starts`, met: false, detail: r.failed }];
  const rss = Math.max(r.idle.rssMaxMb, r.loaded.rssMaxMb);
  return [
    {
      what: `footprint ${r.instanceType}, ${r.assigned} assigned${r.env['ENABLE_PREFIX_DELEGATION'] === 'true' ? ' (prefix mode)' : ' (secondary IPs)'}: RSS <= ${AGENT_RSS_BOUND_MB} MB`,
      met: rss <= AGENT_RSS_BOUND_MB,
      detail: `max RSS ${rss.toFixed(1)} MB (idle end ${r.idle.rssEndMb.toFixed(1)} MB, with ${r.assigned} assigned ${r.loaded.rssEndMb.toFixed(1)} MB)`,
    },
    {
      what: `footprint ${r.instanceType}: idle CPU < 1 %`,
      met: r.idle.cpuPercent < 1,
      detail: `idle ${r.idle.cpuPercent.toFixed(2)} %, with ${r.assigned} assigned ${r.loaded.cpuPercent.toFixed(2)} %`,
    },
  ];
}

/** Issue 16: start-up with a restored checkpoint <= 1.5 s, exported as the VPC CNI's metric. */
export const STARTUP_BOUND_SECONDS = 1.5;

export function startupTargets(r: FootprintResult): Target[] {
  if (!r.program.shipped || r.failed !== undefined) return [];
  const served = r.startup.servedMs / 1000;
  const metric = r.startup.metricSeconds;
  return [
    {
      what: `agent start-up on an ${r.instanceType} with a restored checkpoint (${r.assigned} assigned) <= ${STARTUP_BOUND_SECONDS} s`,
      met: served <= STARTUP_BOUND_SECONDS && metric !== undefined && metric <= STARTUP_BOUND_SECONDS,
      detail: `spawn to first served CNI call ${served.toFixed(2)} s; awscni_ipamd_startup_duration_seconds ${metric === undefined ? 'absent' : metric.toFixed(2)}`,
    },
  ];
}

/** Issue 16: no RSS growth beyond 5 % over a day of churn. */
export const CHURN_GROWTH_BOUND_PERCENT = 5;

export function churnTargets(r: ChurnResult): Target[] {
  return [
    {
      what: `a day of churn (${r.pairsRequested} pod ADD+DEL pairs, compressed): RSS growth <= ${CHURN_GROWTH_BOUND_PERCENT} %`,
      met:
        r.pairs >= r.pairsRequested && r.failedCalls === 0 && r.growthPercent <= CHURN_GROWTH_BOUND_PERCENT,
      detail: `${r.pairs} pairs in ${r.wallSeconds.toFixed(0)} s, ${r.failedCalls} failed calls; RSS ${r.startRssMb.toFixed(1)} -> ${r.endRssMb.toFixed(1)} MB (${r.growthPercent >= 0 ? '+' : ''}${r.growthPercent.toFixed(1)} %)`,
    },
  ];
}

/** Issue 16: agent-side ADD p99 <= 2 ms under a 200-ADD burst. */
export const AGENT_ADD_P99_BOUND_MS = 2;

/**
 * Measured by the agent itself, socket in to socket out (its last byte read to its answer written),
 * over every ADD of the bursts; the client's figures, which add the connection queue between two
 * processes, and the floor are shown beside it.
 */
export function addBurstTargets(r: AddBurstResult): Target[] {
  const a = r.agentSide;
  const perBurst = a.addPerBurst.map((s) => s.p99);
  return [
    {
      what: `agent-side ADD (socket in to socket out) p99 <= ${AGENT_ADD_P99_BOUND_MS} ms under a ${r.burst}-ADD burst`,
      met: a.add.p99 <= AGENT_ADD_P99_BOUND_MS && r.failures === 0,
      detail:
        `in the agent: ADD p50 ${a.add.p50.toFixed(2)} ms, p99 ${a.add.p99.toFixed(2)} ms, max ${a.add.max.toFixed(2)} ms over ${r.bursts} bursts ` +
        `(p99 per burst ${Math.min(...perBurst).toFixed(2)}-${Math.max(...perBurst).toFixed(2)} ms), DEL p99 ${a.del.p99.toFixed(2)} ms, one at a time p99 ${a.alone.p99.toFixed(2)} ms, ${r.failures} failed; ` +
        `as the client saw them (connect to answer): ADD p99 ${r.add.p99.toFixed(2)} ms, floor (same burst, a backend that does nothing) p99 ${r.floor.p99.toFixed(2)} ms` +
        (r.agentThread
          ? `; the agent's main thread over the bursts: ${r.agentThread.runMs.toFixed(0)} ms on a CPU, ${r.agentThread.waitMs.toFixed(0)} ms waiting for one`
          : ''),
    },
  ];
}

export interface BenchResults {
  startedAt: string;
  machine: string;
  chainMs: number;
  burst:
    | {
        ours: BurstFigures;
        baseline: BurstFigures;
        /** Variants that explain a figure (not checked against targets). */
        diagnostics: BurstFigures[];
      }
    | undefined;
  seed: { ours: BurstFigures; baseline: BurstFigures; pods: number } | undefined;
  cni: CniLatencyResult | undefined;
  addBurst: AddBurstResult | undefined;
  footprint: FootprintResult[];
  churn: ChurnResult | undefined;
  moduleLoads: ModuleLoadRss[];
  cluster: { perNode: ClusterFigures; shared: ClusterFigures; minimumSeconds: number } | undefined;
  targets: Target[];
  charts: { file: string; title: string }[];
  totalWallSeconds: number;
}
