/**
 * The cluster cold start (issue 15): hundreds of nodes start at once under one account's EC2
 * buckets while their pods arrive, on default settings, with the shared budget, and with prefix
 * delegation on mixed instance types. Each run is compared with its bucket-bound minimum: the
 * earliest each pod could have had its address if the account's buckets had served exactly the
 * calls the pods needed, in the order the pods needed them, with no other delay than EC2's own.
 */
import { ACCOUNT_BUCKETS, type Ec2Api } from '../provider/rate-limits.js';
import { lookupInstanceType } from '../ipam/instance-types.js';
import type { PodRecord } from '../sim/runner/container-runtime.js';
import { percentiles } from '../sim/runner/report.js';
import { parseScenario, type Scenario } from '../sim/runner/scenario.js';
import { EXAMPLE_LATENCY_MS, EXAMPLE_VISIBILITY_MS } from './scenarios.js';
import { runSimBench, type SimBenchRun } from './sim-bench.js';
import type { Target } from './figures.js';

const SUBNETS = [
  { id: 'subnet-a', az: 'us-east-1a', cidr: '10.0.0.0/17', tags: { 'kubernetes.io/role/cni': '1' } },
  { id: 'subnet-b', az: 'us-east-1a', cidr: '10.0.128.0/17', tags: { 'kubernetes.io/role/cni': '1' } },
];
/** Pods arrive over a minute, as a scheduler places them on nodes that are still starting. */
const PODS_OVER_SECONDS = 60;

export interface ColdStartCase {
  key: 'defaults' | 'shared' | 'prefix';
  label: string;
  scenario: Scenario;
}

export function coldStartCases(nodes: number, prefixNodes: number, seed = 15): ColdStartCase[] {
  const base = (
    shared: boolean,
    groups: { name: string; count: number; instanceType: string; env: Record<string, string> }[],
    podsPerNode: number,
  ) =>
    parseScenario({
      seed,
      durationSeconds: 900,
      sharedRateLimit: shared,
      ec2: {
        subnets: SUBNETS,
        latencyMs: EXAMPLE_LATENCY_MS,
        visibilityDelayMs: EXAMPLE_VISIBILITY_MS,
        throttling: 'aws',
      },
      nodes: groups.map((g) => ({
        name: g.name,
        count: g.count,
        instanceType: g.instanceType,
        subnet: 'subnet-a',
        env: g.env,
      })),
      pods: groups.map((g) => ({
        node: g.name,
        startSecond: 0,
        count: g.count * podsPerNode,
        overSeconds: PODS_OVER_SECONDS,
      })),
    });
  const m5large = [{ name: 'n', count: nodes, instanceType: 'm5.large', env: {} }];
  const share = Math.floor(prefixNodes / 4);
  const pd = { ENABLE_PREFIX_DELEGATION: 'true' };
  const mixed = [
    { name: 'l', count: prefixNodes - 3 * share, instanceType: 'm5.large', env: pd },
    { name: 'x', count: share, instanceType: 'm5.xlarge', env: pd },
    { name: 'c', count: share, instanceType: 'c5.2xlarge', env: pd },
    { name: 'r', count: share, instanceType: 'r5.4xlarge', env: pd },
  ];
  return [
    {
      key: 'defaults',
      label: `${nodes} m5.large, defaults, 15 pods each`,
      scenario: base(false, m5large, 15),
    },
    {
      key: 'shared',
      label: `${nodes} m5.large, shared budget, 15 pods each`,
      scenario: base(true, m5large, 15),
    },
    {
      key: 'prefix',
      label: `${prefixNodes} mixed types, prefix delegation, 15 pods each`,
      scenario: base(false, mixed, 15),
    },
  ];
}

export interface ColdStartFigures {
  key: ColdStartCase['key'];
  label: string;
  nodes: number;
  pods: number;
  addressed: number;
  p50Seconds: number;
  p99Seconds: number;
  boundP50Seconds: number;
  boundP99Seconds: number;
  calls: number;
  throttled: number;
  describePerNode: number;
  /** Describe calls per node by API (throttled retries included), to say which remain. */
  describePerNodeByApi: Record<string, number>;
  leakedEnis: number;
  leakedAddresses: number;
  mismatches: number;
  doubleAssignments: number;
  allWarmSeconds: number | undefined;
  warmBoundSeconds: number;
  wallSeconds: number;
}

/** A pod needs its node's primary ENI filled (one Assign), or one more ENI created and attached. */
type Need = { kind: 'assign'; node: string } | { kind: 'eni'; node: string; index: number };

function needOf(pod: PodRecord, rank: number, instanceType: string, prefixes: boolean): Need {
  const limits = lookupInstanceType(instanceType);
  const slots = (limits?.ipv4PerEni ?? 10) - 1;
  const perEni = prefixes ? slots * 16 : slots;
  const eni = Math.floor(rank / perEni);
  // With prefixes one Assign of a /28 serves 16 pods; the primary ENI's slots last long.
  return eni === 0 ? { kind: 'assign', node: pod.node } : { kind: 'eni', node: pod.node, index: eni };
}

/** Times (ms) at which a bucket passes its calls: the burst at once, then one per refill interval. */
function slots(api: Ec2Api, count: number): number[] {
  const bucket = ACCOUNT_BUCKETS[api];
  return Array.from(
    { length: count },
    (_, j) => (Math.max(0, j + 1 - bucket.size) * 1000) / bucket.refillPerSecond,
  );
}

/**
 * The bucket-bound minimum of each pod's time to address. Each node's calls go in the order its
 * first pod needing them arrived; every call passes its API's account bucket at the earliest slot
 * still free (burst, then refill), then takes EC2's latency and visibility delay. The agent's own
 * start-up and every other cost are left out, so no real run can beat it.
 */
export function boundTimesMs(scenario: Scenario, pods: readonly PodRecord[]): number[] {
  const latency = (api: string): number =>
    scenario.ec2.latencyMs[api] ?? scenario.ec2.latencyMs['default'] ?? 0;
  const visible = scenario.ec2.visibilityDelayMs;
  const typeOf = new Map<string, { type: string; prefixes: boolean }>();
  for (const group of scenario.nodes) {
    for (let i = 0; i < group.count; i++)
      typeOf.set(`${group.name}-${i}`, {
        type: group.instanceType,
        prefixes: group.env['ENABLE_PREFIX_DELEGATION'] === 'true',
      });
  }
  // Pod times are the simulated clock's; the buckets' slots count from the nodes' launch.
  const firstPodAt = Math.min(...scenario.pods.map((p) => p.startSecond * 1000));
  const origin = Math.min(...pods.map((p) => p.createdAt)) - firstPodAt;
  const arrival = (pod: PodRecord): number => pod.createdAt - origin;
  const byNode = new Map<string, PodRecord[]>();
  for (const pod of pods) byNode.set(pod.node, [...(byNode.get(pod.node) ?? []), pod]);
  // Per need: when it is first needed (its first pod's arrival), and its pods.
  const needs = new Map<string, { need: Need; at: number; pods: PodRecord[] }>();
  for (const [node, list] of byNode) {
    const info = typeOf.get(node) ?? { type: 'm5.large', prefixes: false };
    [...list]
      .sort((a, b) => a.createdAt - b.createdAt)
      .forEach((pod, rank) => {
        const need = needOf(pod, rank, info.type, info.prefixes);
        const key = need.kind === 'assign' ? `${node}/assign` : `${node}/eni${need.index}`;
        const entry = needs.get(key) ?? { need, at: arrival(pod), pods: [] };
        entry.pods.push(pod);
        needs.set(key, entry);
      });
  }
  const ready = new Map<string, number>();
  const assigns = [...needs.entries()]
    .filter(([, e]) => e.need.kind === 'assign')
    .sort((a, b) => a[1].at - b[1].at);
  const assignSlots = slots('AssignPrivateIpAddresses', assigns.length);
  assigns.forEach(([key], j) =>
    ready.set(key, (assignSlots[j] ?? 0) + latency('AssignPrivateIpAddresses') + visible),
  );
  const enis = [...needs.entries()]
    .filter(([, e]) => e.need.kind === 'eni')
    .sort((a, b) => a[1].at - b[1].at);
  const createSlots = slots('CreateNetworkInterface', enis.length);
  const created = enis.map(([key], j) => ({
    key,
    at: (createSlots[j] ?? 0) + latency('CreateNetworkInterface'),
  }));
  created.sort((a, b) => a.at - b.at);
  const attachSlots = slots('AttachNetworkInterface', created.length);
  created.forEach((c, j) =>
    ready.set(c.key, Math.max(c.at, attachSlots[j] ?? 0) + latency('AttachNetworkInterface') + visible),
  );
  const times: number[] = [];
  for (const [key, entry] of needs) {
    const at = ready.get(key) ?? 0;
    for (const pod of entry.pods) times.push(Math.max(0, at - arrival(pod)));
  }
  return times;
}

/**
 * All nodes warm at best: every node's primary ENI gets its warm addresses or /28s through at least
 * one Assign (the Assign bucket passes them at its burst, then its refill), and every secondary ENI
 * goes through the Create and Attach buckets; each then takes EC2's latency and visibility delay.
 * The later of the two is the minimum. With prefix delegation the nodes of the cases need no
 * secondary ENI, and the Assign bucket alone bounds it: 200 Assigns pass in (200 - 100) / 5 = 20 s.
 */
export function warmBoundSeconds(scenario: Scenario, nodes: number, secondaryEnis: number): number {
  const latency = (api: string): number =>
    scenario.ec2.latencyMs[api] ?? scenario.ec2.latencyMs['default'] ?? 0;
  const visible = scenario.ec2.visibilityDelayMs;
  const assign = slots('AssignPrivateIpAddresses', nodes).at(-1);
  const assigned = assign === undefined ? 0 : assign + latency('AssignPrivateIpAddresses') + visible;
  if (secondaryEnis === 0) return assigned / 1000;
  const create = slots('CreateNetworkInterface', secondaryEnis).at(-1) ?? 0;
  const attach = slots('AttachNetworkInterface', secondaryEnis).at(-1) ?? 0;
  const last = Math.max(create + latency('CreateNetworkInterface'), attach);
  const attached = last + latency('AttachNetworkInterface') + visible;
  return Math.max(assigned, attached) / 1000;
}

export function coldStartFigures(c: ColdStartCase, run: SimBenchRun): ColdStartFigures {
  const nodes = run.warmTargetMetAtMs.length;
  const calls = Object.values(run.ec2.calls).reduce((a, b) => a + b, 0);
  const describeCalls = Object.entries(run.ec2.calls).filter(([api]) => api.startsWith('Describe'));
  const describes = describeCalls.reduce((n, [, v]) => n + v, 0);
  const bound = percentiles(boundTimesMs(c.scenario, run.podRecords));
  const warm = run.warmTargetMetAtMs;
  const met = warm.filter((t): t is number => t !== undefined);
  return {
    key: c.key,
    label: c.label,
    nodes,
    pods: run.pods.requested,
    addressed: run.pods.gotAddress,
    p50Seconds: run.pods.timeToAddressMs.p50 / 1000,
    p99Seconds: run.pods.timeToAddressMs.p99 / 1000,
    boundP50Seconds: bound.p50 / 1000,
    boundP99Seconds: bound.p99 / 1000,
    calls,
    throttled: run.ec2.throttled,
    describePerNode: nodes === 0 ? 0 : describes / nodes,
    describePerNodeByApi: Object.fromEntries(
      describeCalls.map(([api, v]) => [api, nodes === 0 ? 0 : v / nodes]),
    ),
    leakedEnis: run.end.leakedEnis,
    leakedAddresses: run.end.leakedAddresses,
    mismatches: run.end.accountingMismatches,
    doubleAssignments: run.end.doubleAssignments,
    allWarmSeconds: met.length === warm.length && met.length > 0 ? Math.max(...met) / 1000 : undefined,
    warmBoundSeconds: warmBoundSeconds(c.scenario, nodes, run.secondaryEnisAtEnd),
    wallSeconds: run.wallMs / 1000,
  };
}

/** A ratio to a bound under a second compares with a second: a pod's wait is never less. */
function ratio(value: number, bound: number): number {
  return value / Math.max(1, bound);
}

export function coldStartTargets(figures: readonly ColdStartFigures[]): Target[] {
  const targets: Target[] = [];
  for (const f of figures) {
    const throttledPct = (100 * f.throttled) / Math.max(1, f.calls);
    if (f.key === 'defaults' || f.key === 'prefix') {
      targets.push(
        {
          what: `cold start ${f.label}: pods' p99 within 1.5 x the bucket-bound minimum`,
          met: ratio(f.p99Seconds, f.boundP99Seconds) <= 1.5,
          detail: `p99 ${f.p99Seconds.toFixed(1)} s vs ${f.boundP99Seconds.toFixed(1)} s (${ratio(f.p99Seconds, f.boundP99Seconds).toFixed(2)} x)`,
        },
        {
          what: `cold start ${f.label}: throttled < 5 % of calls`,
          met: throttledPct < 5,
          detail: `${f.throttled} of ${f.calls} (${throttledPct.toFixed(1)} %)`,
        },
      );
    } else {
      targets.push(
        {
          what: `cold start ${f.label}: pods' p99 within 1.2 x the bucket-bound minimum`,
          met: ratio(f.p99Seconds, f.boundP99Seconds) <= 1.2,
          detail: `p99 ${f.p99Seconds.toFixed(1)} s vs ${f.boundP99Seconds.toFixed(1)} s (${ratio(f.p99Seconds, f.boundP99Seconds).toFixed(2)} x)`,
        },
        {
          what: `cold start ${f.label}: 0 throttled`,
          met: f.throttled === 0,
          detail: `${f.throttled} throttled`,
        },
      );
    }
    // Every case: the "all nodes warm" target holds without the shared budget too.
    targets.push({
      what: `cold start ${f.label}: all nodes warm within 1.15 x the bucket-bound minimum`,
      met: f.allWarmSeconds !== undefined && f.allWarmSeconds <= 1.15 * f.warmBoundSeconds,
      detail:
        f.allWarmSeconds === undefined
          ? 'not every node warm at the end'
          : `${f.allWarmSeconds.toFixed(1)} s vs ${f.warmBoundSeconds.toFixed(1)} s (${(f.allWarmSeconds / f.warmBoundSeconds).toFixed(2)} x)`,
    });
    targets.push({
      what: `cold start ${f.label}: 0 leaks, 0 mismatches, every pod addressed`,
      met:
        f.leakedEnis + f.leakedAddresses + f.mismatches + f.doubleAssignments === 0 && f.addressed === f.pods,
      detail: `${f.addressed}/${f.pods} pods, ${f.leakedEnis} leaked ENIs, ${f.leakedAddresses} leaked addresses, ${f.mismatches} mismatches, ${f.doubleAssignments} double assignments`,
    });
  }
  return targets;
}

export async function runColdStartBench(
  nodes: number,
  prefixNodes: number,
  log: (line: string) => void,
): Promise<ColdStartFigures[]> {
  const figures: ColdStartFigures[] = [];
  for (const c of coldStartCases(nodes, prefixNodes)) {
    log(`cold start: ${c.label}`);
    const run = await runSimBench(c.scenario, { stopWhenSettled: true, sampleEveryMs: 1000 });
    const f = coldStartFigures(c, run);
    figures.push(f);
    log(
      `cold start: p50 ${f.p50Seconds.toFixed(1)} s, p99 ${f.p99Seconds.toFixed(1)} s (bound ${f.boundP99Seconds.toFixed(1)} s), ` +
        `${f.throttled}/${f.calls} throttled, ${f.describePerNode.toFixed(1)} Describe/node (${describeBreakdown(f)}), ` +
        `all warm ${f.allWarmSeconds ?? 'never'} s (bound ${f.warmBoundSeconds.toFixed(1)} s, ${fmt(warmRatio(f), 2)} x), leaks ${f.leakedEnis + f.leakedAddresses}, mismatches ${f.mismatches}, wall ${f.wallSeconds.toFixed(0)} s`,
    );
  }
  return figures;
}

const fmt = (n: number | undefined, digits = 1): string => (n === undefined ? 'never' : n.toFixed(digits));

/** When the last node met its warm target, as a multiple of its bucket-bound minimum. */
function warmRatio(f: ColdStartFigures): number | undefined {
  return f.allWarmSeconds === undefined ? undefined : ratio(f.allWarmSeconds, f.warmBoundSeconds);
}

/** "DescribeSubnets 1.0, DescribeNetworkInterfaces 1.0": which Describe calls a node made. */
function describeBreakdown(f: ColdStartFigures): string {
  return Object.entries(f.describePerNodeByApi)
    .sort((a, b) => b[1] - a[1])
    .map(([api, n]) => `${api} ${n.toFixed(2)}`)
    .join(', ');
}

/** The Markdown section RESULTS.md gains. */
export function coldStartMarkdown(figures: readonly ColdStartFigures[]): string {
  const head =
    '| case | pods addressed | p50 s | p99 s | bound p99 s | p99 / bound | throttled | Describe / node | all warm s | warm bound s | all warm / bound | leaks | mismatches | wall s |';
  const sep = '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |';
  const rows = figures.map((f) =>
    [
      f.label,
      `${f.addressed}/${f.pods}`,
      fmt(f.p50Seconds),
      fmt(f.p99Seconds),
      fmt(f.boundP99Seconds),
      fmt(ratio(f.p99Seconds, f.boundP99Seconds), 2),
      `${f.throttled} of ${f.calls} (${fmt((100 * f.throttled) / Math.max(1, f.calls))} %)`,
      fmt(f.describePerNode),
      fmt(f.allWarmSeconds),
      fmt(f.warmBoundSeconds),
      fmt(warmRatio(f), 2),
      String(f.leakedEnis + f.leakedAddresses),
      String(f.mismatches),
      fmt(f.wallSeconds),
    ].join(' | '),
  );
  return [
    '',
    '## Cluster cold start',
    '',
    "Every node starts at t = 0 under one account's EC2 buckets (throttling on) while 15 pods per node arrive over a minute. " +
      '"bound" is the bucket-bound minimum: each pod\'s time to address if the account\'s buckets had passed exactly the calls the pods needed ' +
      "(one Assign per node, then a Create and an Attach per further ENI), in the order the pods needed them, with only EC2's latency and " +
      'visibility delay on top (bench/cluster-cold-start.ts). A ratio divides by at least 1 s. "all warm" is when the last node met its warm target; ' +
      '"warm bound" is its minimum: one Assign per node through the Assign bucket and every secondary ENI through the Create and Attach buckets, whichever ends later.',
    '',
    head,
    sep,
    ...rows.map((r) => `| ${r} |`),
    '',
    'Describe calls per node by API (throttled retries included):',
    '',
    ...figures.map((f) => `- ${f.label}: ${describeBreakdown(f)}`),
    '',
  ].join('\n');
}
