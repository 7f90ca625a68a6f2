/**
 * A day of pod churn on one agent process, compressed into real minutes: the agent under test is a
 * real process on real timers, so simulated time cannot drive it. A day at one pod created and
 * deleted every second is 86,400 ADD + DEL pairs; they run back to back over the agent's socket,
 * eight pods at a time,
 * with the periodic work compressed alongside (an EC2 resync every second, and every Kubernetes
 * watch ended by the API server after a second, so that it restarts; leak scans keep their fixed
 * interval). RSS is sampled from /proc all along; growth compares the end of the run with its
 * start, once the first pairs have warmed the process up.
 */
import { callAgent } from '../cni/agent-client.js';
import { DEFAULT_ADD_TIMEOUT_MS } from '../cni/timeouts.js';
import { systemClock } from '../time/clock.js';
import type { AgentProgram } from './agent-programs.js';
import { startAgentUnderTest } from './agent-under-test.js';
import { commandOf } from './footprint.js';
import { readRssKb } from './proc-stats.js';

export interface ChurnOptions {
  pairs: number;
  /** Stop earlier once this much wall time has passed; the report says how many pairs ran. */
  budgetMs: number;
  program: AgentProgram;
}

export interface ChurnResult {
  command: string;
  instanceType: string;
  pairsRequested: number;
  pairs: number;
  failedCalls: number;
  wallSeconds: number;
  /** DescribeNetworkInterfaces calls (a resync is one) and pod watch restarts the run went through. */
  resyncs: number;
  watchRestarts: number;
  /** Max RSS over the first tenth of the run (after warm-up) and over its last tenth, MB. */
  startRssMb: number;
  endRssMb: number;
  growthPercent: number;
  /** [pairs done, RSS MB], one sample per second. */
  series: [number, number][];
}

const SAMPLE_EVERY_MS = 1_000;
/** Pods created and deleted at the same time (each of the 16 free addresses of a warm prefix at most once). */
const PODS_IN_FLIGHT = 8;
/** The first pairs load and optimise code paths once: not growth. */
const WARM_UP_PAIRS = 2_000;

/** Max RSS of the samples in the first and the last `fraction` of the run's pairs. */
export function growthOf(
  series: readonly [number, number][],
  warmUpPairs: number,
  fraction: number,
): { start: number; end: number; percent: number } {
  const measured = series.filter(([pairs]) => pairs >= warmUpPairs);
  const span = measured.length;
  const take = Math.max(1, Math.floor(span * fraction));
  const max = (xs: readonly [number, number][]): number => Math.max(0, ...xs.map(([, rss]) => rss));
  const start = max(measured.slice(0, take));
  const end = max(measured.slice(span - take));
  return { start, end, percent: start > 0 ? ((end - start) / start) * 100 : 0 };
}

export async function measureChurn(options: ChurnOptions): Promise<ChurnResult> {
  const instanceType = 'm5.8xlarge';
  const agent = await startAgentUnderTest({
    instanceType,
    env: {
      ...options.program.env,
      ENABLE_PREFIX_DELEGATION: 'true',
      // Compressed time: an address is free again at once (a day's 30 s cooldowns would need
      // thousands of cooling addresses at this pace), and the minute's resync runs every second.
      IP_COOLDOWN_PERIOD: '0',
      ENI_IPAM_EC2_RESYNC_SECONDS: '1',
    },
    seed: 6,
    nodeArgs: options.program.nodeArgs,
    watchLifetimeMs: 1_000,
  });
  const series: [number, number][] = [];
  let pairs = 0;
  let failedCalls = 0;
  const started = systemClock.now();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      series.push([pairs, (await readRssKb(agent.pid)) / 1024]);
      await systemClock.sleep(SAMPLE_EVERY_MS);
    }
  })();
  try {
    await agent.warmPool();
    // A few pods at a time, each created and deleted in turn: a node's kubelet starts and stops
    // pods in parallel too, and the day fits in fewer minutes.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < options.pairs && systemClock.now() - started < options.budgetMs) {
        const n = next++;
        const containerId = `churn${String(n).padStart(6, '0')}`;
        const pod = {
          namespace: 'default',
          name: `churn-${n}`,
          uid: `uid-churn-${n}`,
          infraContainerId: containerId,
        };
        const add = await callAgent({
          socketPath: agent.socketPath,
          request: {
            op: 'add',
            containerId,
            ifname: 'eth0',
            netns: `/var/run/netns/${containerId}`,
            network: 'aws-cni',
            pod,
          },
          timeoutMs: DEFAULT_ADD_TIMEOUT_MS,
          clock: systemClock,
        });
        if (add.kind !== 'answered' || !add.response.ok) failedCalls++;
        const del = await callAgent({
          socketPath: agent.socketPath,
          request: { op: 'del', containerId, ifname: 'eth0', network: 'aws-cni', pod },
          timeoutMs: DEFAULT_ADD_TIMEOUT_MS,
          clock: systemClock,
        });
        if (del.kind !== 'answered' || !del.response.ok) failedCalls++;
        pairs++;
      }
    };
    await Promise.all(Array.from({ length: PODS_IN_FLIGHT }, worker));
    sampling = false;
    await sampler;
    const traffic = agent.traffic();
    const growth = growthOf(series, Math.min(WARM_UP_PAIRS, Math.floor(pairs / 10)), 0.1);
    return {
      command: commandOf(options.program),
      instanceType,
      pairsRequested: options.pairs,
      pairs,
      failedCalls,
      wallSeconds: (systemClock.now() - started) / 1000,
      resyncs: traffic.ec2Calls['DescribeNetworkInterfaces'] ?? 0,
      watchRestarts: Math.max(0, traffic.watchesOpened - 1),
      startRssMb: growth.start,
      endRssMb: growth.end,
      growthPercent: growth.percent,
      series,
    };
  } finally {
    sampling = false;
    await sampler;
    await agent.stop();
  }
}
