/**
 * `npm run bench` (issue 8): the burst against the physical chain and against a baseline modelled
 * on the AWS VPC CNI, the CNI plugin's latency, the agent's footprint and a 500-node cluster start
 * under account-level EC2 buckets, in one command. Prints the table, writes bench/RESULTS.md and
 * its SVG charts. Every figure is measured in this run; docs/benchmarks.md says how to read them.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from '../time/clock.js';
import { BASELINE_ENV, BASELINE_POLICY } from './baseline-policy.js';
import { chartsOf, type ChartFile } from './charts.js';
import { measureCniLatency } from './cni-latency.js';
import {
  baselineTargets,
  bucketMinimumSeconds,
  burstFigures,
  burstTargets,
  clusterFigures,
  addBurstTargets,
  churnTargets,
  clusterTargets,
  cniTargets,
  footprintTargets,
  startupTargets,
  type BenchResults,
  type Target,
} from './figures.js';
import { measureFootprint, measureModuleLoads, ticksPerSecond, type FootprintCase } from './footprint.js';
import type { AgentProgram } from './agent-programs.js';
import { SHIPPED_STARTUP_MODE } from '../scripts/build-cni-plugin.js';
import { buildPluginExecutable } from './plugin-executable.js';
import { measureAddBurst } from './agent-add-burst.js';
import { footprintLadder, SHIPPED_AGENT } from './agent-programs.js';
import { measureChurn } from './churn.js';
import { consoleSummary, resultsMarkdown } from './results-md.js';
import {
  burstScenario,
  clusterScenario,
  EXAMPLE_LATENCY_MS,
  EXAMPLE_VISIBILITY_MS,
  physicalChainMs,
} from './scenarios.js';
import { runSimBench, type SimBenchRun } from './sim-bench.js';
import { coldStartMarkdown, coldStartTargets, runColdStartBench } from './cluster-cold-start.js';
import { ACCOUNT_BUCKETS } from '../provider/rate-limits.js';

const BENCHES = ['burst', 'seed', 'cluster', 'cold-start', 'cni', 'add-burst', 'footprint', 'churn'] as const;
type Bench = (typeof BENCHES)[number];

const USAGE = `Usage: npm run bench [-- OPTIONS]   (node dist/bench/main.js [OPTIONS])

  --only LIST          comma-separated subset of: ${BENCHES.join(', ')} (default: all)
  --out DIR            where RESULTS.md and charts/ go (default: the repository's bench/)
  --pairs N            CNI ADD+DEL pairs (default 1000)
  --cni-seconds S      stop the CNI pairs after S seconds of wall time (default 75)
  --nodes N            cluster-scale nodes (default 500)
  --cold-start-nodes N m5.large nodes of the cold-start table (default 1000; 200 mixed with prefixes)
  --churn-pairs N      pod ADD+DEL pairs of the churn run (default 86400: a day at one pod a second)
  --churn-seconds S    stop the churn after S seconds of wall time (default 600)
  --ladder             footprint: also each step from the unbundled agent to the shipped one (default on;
                       --no-ladder measures the shipped agent only)
`;

/** The pods arrive once the agent has started and warmed its pool. */
const BURST_AT_SECOND = 30;
const BURST_PODS = 200;
/** The m5.large's max pods (29) minus the two host-network pods the EKS formula's "+ 2" stands for. */
const SEED_PODS = 27;
const SEED = 11;

/** Issue 16's nodes. The first is also where each step of the footprint ladder is measured. */
const FOOTPRINT_CASES: FootprintCase[] = [
  // 250 addresses assigned in prefix mode: with prefix delegation, 250 max pods needs 30 vCPUs.
  { instanceType: 'm5.8xlarge', env: { ENABLE_PREFIX_DELEGATION: 'true' }, pods: 250 },
  // Secondary IPs: 8 ENIs x 29 secondary addresses = 232 pods, every one its ENIs can hold (its
  // max pods, 234, counts the two host-network pods of the formula's "+ 2").
  { instanceType: 'm5.4xlarge', env: {}, pods: 232 },
];

/** The cluster's whole account budget for every family: what the bucket-limited minimum assumes. */
const WHOLE_ACCOUNT_BUDGET = {
  ENI_IPAM_EC2_RATE_DESCRIBE: '1',
  ENI_IPAM_EC2_RATE_MUTATE: '1',
  ENI_IPAM_EC2_RATE_ATTACH: '1',
};

async function burstPair(
  pods: number,
  instanceType: string,
  env: Record<string, string>,
): Promise<[SimBenchRun, SimBenchRun]> {
  const scenario = (extra: Record<string, string>) =>
    burstScenario({
      instanceType,
      pods,
      atSecond: BURST_AT_SECOND,
      durationSeconds: 900,
      env: { ...env, ...extra },
      seed: SEED,
    });
  const ours = await runSimBench(scenario({}), { stopWhenSettled: true });
  const baseline = await runSimBench(scenario(BASELINE_ENV), {
    policy: BASELINE_POLICY,
    stopWhenSettled: true,
  });
  return [ours, baseline];
}

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowNegative: true,
      options: {
        only: { type: 'string' },
        out: { type: 'string' },
        pairs: { type: 'string', default: '1000' },
        'cni-seconds': { type: 'string', default: '75' },
        nodes: { type: 'string', default: '500' },
        'cold-start-nodes': { type: 'string', default: '1000' },
        'churn-pairs': { type: 'string', default: '86400' },
        'churn-seconds': { type: 'string', default: '600' },
        ladder: { type: 'boolean', default: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const only = values.only === undefined ? [...BENCHES] : values.only.split(',').map((b) => b.trim());
  const unknown = only.filter((b) => !(BENCHES as readonly string[]).includes(b));
  const pairs = Number(values.pairs);
  const cniSeconds = Number(values['cni-seconds']);
  const nodes = Number(values.nodes);
  const churnPairs = Number(values['churn-pairs']);
  const churnSeconds = Number(values['churn-seconds']);
  if (
    unknown.length > 0 ||
    !(pairs > 0) ||
    !(cniSeconds > 0) ||
    !(Number.isInteger(nodes) && nodes > 0) ||
    !(Number.isInteger(churnPairs) && churnPairs > 0) ||
    !(churnSeconds > 0)
  ) {
    process.stderr.write(
      `bench: bad option${unknown.length > 0 ? `: unknown bench ${unknown.join(', ')}` : ''}\n\n${USAGE}`,
    );
    return 2;
  }
  const wants = (b: Bench): boolean => only.includes(b);
  const outDir = values.out ?? fileURLToPath(new URL('../../bench', import.meta.url));
  const started = systemClock.now();
  const chainMs = physicalChainMs(EXAMPLE_LATENCY_MS, EXAMPLE_VISIBILITY_MS);
  const targets: Target[] = [];
  const results: BenchResults = {
    startedAt: new Date(started).toISOString(),
    machine: `${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), node ${process.version}`,
    chainMs,
    burst: undefined,
    seed: undefined,
    cni: undefined,
    addBurst: undefined,
    footprint: [],
    churn: undefined,
    moduleLoads: [],
    cluster: undefined,
    targets,
    charts: [],
    totalWallSeconds: 0,
  };
  const runs: Parameters<typeof chartsOf>[0] = {};

  if (wants('burst')) {
    log(`burst: ${BURST_PODS} pods on an m5.4xlarge, eni-ipam then the baseline`);
    const [ours, baseline] = await burstPair(BURST_PODS, 'm5.4xlarge', {});
    results.burst = {
      ours: burstFigures('eni-ipam', ours),
      baseline: burstFigures('baseline (VPC CNI model)', baseline),
      diagnostics: [],
    };
    targets.push(
      ...burstTargets(results.burst.ours, chainMs),
      ...baselineTargets('burst', results.burst.ours, results.burst.baseline),
    );
    runs.burst = { ours, baseline };
    // Diagnostic, not a target: the same burst with the node allowed the whole account budget
    // separates what the default client-side share costs from what the EC2 call chain costs.
    const whole = await runSimBench(
      burstScenario({
        instanceType: 'm5.4xlarge',
        pods: BURST_PODS,
        atSecond: BURST_AT_SECOND,
        durationSeconds: 900,
        env: WHOLE_ACCOUNT_BUDGET,
        seed: SEED,
      }),
      { stopWhenSettled: true },
    );
    results.burst.diagnostics.push(burstFigures('eni-ipam, whole account budget (diagnostic)', whole));
  }
  if (wants('seed')) {
    log(`seed: ${SEED_PODS} pods on an m5.large with WARM_ENI_TARGET=1`);
    const [ours, baseline] = await burstPair(SEED_PODS, 'm5.large', { WARM_ENI_TARGET: '1' });
    results.seed = {
      ours: burstFigures('eni-ipam', ours),
      baseline: burstFigures('baseline (VPC CNI model)', baseline),
      pods: SEED_PODS,
    };
    targets.push(...baselineTargets('seed', results.seed.ours, results.seed.baseline));
    runs.seed = { ours, baseline };
  }
  if (wants('cluster')) {
    const scenario = (shared: boolean) =>
      clusterScenario({
        nodes,
        sharedBudget: shared,
        env: shared ? WHOLE_ACCOUNT_BUDGET : {},
        durationSeconds: 1800,
        seed: 500,
      });
    log(`cluster: ${nodes} nodes, per-node limiters`);
    const perNode = await runSimBench(scenario(false), { stopWhenSettled: true, sampleEveryMs: 500 });
    log(`cluster: ${nodes} nodes, one shared budget`);
    const shared = await runSimBench(scenario(true), { stopWhenSettled: true, sampleEveryMs: 500 });
    const attach = ACCOUNT_BUCKETS.AttachNetworkInterface;
    const minimumSeconds = bucketMinimumSeconds(nodes, attach.size, attach.refillPerSecond);
    results.cluster = {
      perNode: clusterFigures('(a) per-node limiters', perNode),
      shared: clusterFigures('(b) one shared budget', shared),
      minimumSeconds,
    };
    targets.push(...clusterTargets(results.cluster.shared, minimumSeconds));
    runs.cluster = { perNode, shared };
  }
  let coldStart = '';
  if (wants('cold-start')) {
    const figures = await runColdStartBench(Number(values['cold-start-nodes']), 200, log);
    targets.push(...coldStartTargets(figures));
    coldStart = coldStartMarkdown(figures);
  }
  if (wants('cni')) {
    log(`cni: up to ${pairs} ADD+DEL pairs through the plugin executables (at most ${cniSeconds} s)`);
    const exeDir = await mkdtemp(join(tmpdir(), 'eni-ipam-bench-plugin-'));
    try {
      const executables: { label: string; path: string; shipped: boolean }[] = [];
      for (const startup of ['code-cache', 'snapshot'] as const) {
        const built = await buildPluginExecutable(join(exeDir, startup), startup);
        if (built.kind === 'unavailable') log(`cni: no single executable with ${startup} (${built.reason})`);
        else
          executables.push({
            label: `single executable, ${startup}`,
            path: built.path,
            shipped: startup === SHIPPED_STARTUP_MODE,
          });
      }
      results.cni = await measureCniLatency({ pairs, budgetMs: cniSeconds * 1000, executables });
    } finally {
      await rm(exeDir, { recursive: true, force: true });
    }
    targets.push(...cniTargets(results.cni));
  }
  // Reported beside the plugin figures; runs on its own with --only add-burst.
  if (wants('cni') || wants('add-burst')) {
    log('add-burst: agent-side ADD latency, bursts of 200 ADDs over the socket');
    results.addBurst = await measureAddBurst(SHIPPED_AGENT);
    targets.push(...addBurstTargets(results.addBurst));
  }
  if (wants('footprint')) {
    log('footprint: module loads');
    results.moduleLoads = await measureModuleLoads();
    const hz = await ticksPerSecond();
    const [first, ...others] = FOOTPRINT_CASES;
    const runs: [FootprintCase, AgentProgram][] = [
      ...(values.ladder ? footprintLadder() : [SHIPPED_AGENT]).map((p): [FootprintCase, AgentProgram] => [
        first!,
        p,
      ]),
      ...others.map((c): [FootprintCase, AgentProgram] => [c, SHIPPED_AGENT]),
    ];
    for (const [footprint, program] of runs) {
      log(
        `footprint: ${program.label} on an ${footprint.instanceType}, then ${footprint.pods} pods, then a restart`,
      );
      const r = await measureFootprint(footprint, program, hz);
      results.footprint.push(r);
      targets.push(...footprintTargets(r), ...startupTargets(r));
    }
  }
  if (wants('churn')) {
    log(`churn: ${churnPairs} pod ADD+DEL pairs on the shipped agent (at most ${churnSeconds} s)`);
    results.churn = await measureChurn({
      pairs: churnPairs,
      budgetMs: churnSeconds * 1000,
      program: SHIPPED_AGENT,
    });
    targets.push(...churnTargets(results.churn));
  }

  const charts: ChartFile[] = chartsOf(runs);
  await mkdir(join(outDir, 'charts'), { recursive: true });
  for (const chart of charts) await writeFile(join(outDir, chart.file), chart.svg);
  results.charts = charts.map((c) => ({ file: c.file, title: c.title }));
  results.totalWallSeconds = (systemClock.now() - started) / 1000;
  await writeFile(join(outDir, 'RESULTS.md'), resultsMarkdown(results, notesFor(results)) + coldStart);
  await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(consoleSummary(results));
  log(`wrote ${join(outDir, 'RESULTS.md')}`);
  return 0;
}

function notesFor(r: BenchResults): string {
  const notes: string[] = [];
  if (r.seed)
    notes.push(
      `- Seed scenario: ${r.seed.pods} pods, the m5.large's max pods (29) less the two host-network pods the max-pods formula's "+ 2" counts; 27 is every secondary address its three ENIs hold.`,
    );
  if (r.burst || r.seed)
    notes.push(
      '- Baseline: bench/baseline-policy.ts (5 s tick, one action per tick and none while one is under way, a new ENI only when no ENI has room, waiting ADDs invisible, cooling addresses counted as free), with ENI_IPAM_ADD_WAIT_SECONDS=0 so an ADD that finds no address fails at once; the simulated kubelet retries it after 1 s, doubling up to 30 s.',
    );
  if (r.cluster)
    notes.push(
      '- Cluster: m5.large nodes with WARM_ENI_TARGET=2 and no pods (primary ENI filled, one ENI created and attached). (a) each agent its own limiter at the default node share (a tenth of each account bucket); (b) all agents one limiter per API sized at the whole account bucket (ENI_IPAM_EC2_RATE_DESCRIBE/_MUTATE/_ATTACH=1), as the Redis-shared budget does across real nodes. A node is warm from the moment nothing is under way and its pool is not too low.',
    );
  if (r.footprint.length > 0)
    notes.push(
      '- Footprint: 250 assigned addresses in prefix mode need an m5.8xlarge (with prefix delegation, EKS caps nodes under 30 vCPUs at 110 pods). The m5.4xlarge in secondary-IP mode holds 8 ENIs x 29 secondary addresses = 232, all assigned; its max pods of 234 counts two host-network pods. RSS is VmRSS, which includes the pages of the node binary the process has touched (about 33 MB for a bare `node -e`).',
      '- Start-up: the agent is stopped with SIGTERM after the loaded window and started again on the same checkpoint, node and simulated EC2; "served" is from the spawn to the first CNI call it answers successfully (a DEL, polled every 5 ms); the metric is the agent\'s own `awscni_ipamd_startup_duration_seconds` (process start to serving).',
    );
  if (r.churn)
    notes.push(
      `- Churn: a compressed real run, not simulated time (the agent under test is a real process on real timers): ${r.churn.pairs} ADD+DEL pairs back to back on an ${r.churn.instanceType} in prefix mode with IP_COOLDOWN_PERIOD=0, ENI_IPAM_EC2_RESYNC_SECONDS=1 and every pod watch ended by the API server after 1 s; ${r.churn.resyncs} DescribeNetworkInterfaces calls and ${r.churn.watchRestarts} watch restarts went by, leak scans at their fixed interval. Growth: the highest RSS of the last tenth of the samples against the highest of the first tenth after the first 2000 pairs.`,
    );
  if (r.addBurst)
    notes.push(
      `- Agent-side ADD: ${r.addBurst.bursts} bursts of ${r.addBurst.burst} ADDs sent at once over the unix socket to the shipped agent (m5.8xlarge, prefix mode, 13 warm prefixes, so each ADD finds a free address), then the ${r.addBurst.burst} DELs the same way; then ${r.addBurst.burst} ADDs one at a time. The target's measure is the agent's own: each request timed by the agent from its last byte read on the socket to its answer written (socket in to socket out; eniipam_cni_request_duration_seconds, exact values from /v1/cni-requests), which includes the checkpoint write the answer waits for. The rows \"by the client\" time the same requests from the client's connect to the answer: they add each connection's wait in the listen queue and the event loop, which with 200 connections at once between two node processes on two cores is most of it. The floor row is the same bursts against bench/echo-agent.ts, the agent's CNI endpoint with the same node flags in front of a backend that answers at once, timed by the client: what 200 connections at once cost on this machine.`,
    );
  return notes.join('\n');
}

process.exitCode = await main(process.argv.slice(2));
