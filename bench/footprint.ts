/**
 * Benchmark 4: what the agent costs on the node. A real agent process on the HTTP simulator is
 * sampled from outside (/proc/PID/status VmRSS, /proc/PID/stat CPU ticks) at idle and again with
 * pods holding addresses, then restarted on its checkpoint to time its start-up; each way of
 * running it (bench/agent-programs.ts: unbundled, bundled, with each V8 or allocator setting)
 * separately. To say what dominates the resident memory, separate node processes measure the RSS
 * of loading only the big dependencies and of loading the whole agent.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { callAgent } from '../cni/agent-client.js';
import { DEFAULT_ADD_TIMEOUT_MS } from '../cni/timeouts.js';
import { systemClock } from '../time/clock.js';
import {
  AGENT_BUNDLE_ENTRY,
  startAgentUnderTest,
  type AgentUnderTest,
  type PoolEni,
} from './agent-under-test.js';
import type { AgentProgram } from './agent-programs.js';
import { cpuPercent, readCpuTicks, readRssKb } from './proc-stats.js';

const run = promisify(execFile);

/** Long enough for the agent's periodic work (resync, cooldown sweeps) to show; short enough to run. */
const SAMPLE_WINDOW_MS = 10_000;
const SAMPLE_EVERY_MS = 500;
/**
 * Idle is measured this long after the pool is warm: the first seconds after start-up still carry
 * start-up work (JIT tiering, collecting the garbage of loading the SDK), which is not what a node
 * pays while nothing happens.
 */
const IDLE_SETTLE_MS = 20_000;
/** After the pods: their checkpoint writes and the pool's top-up finish before sampling. */
const LOADED_SETTLE_MS = 8_000;

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGENT_MAIN = new URL('../agent/main.js', import.meta.url).href;

export interface WindowSample {
  /** Highest and last VmRSS in the window, MB. */
  rssMaxMb: number;
  rssEndMb: number;
  /** CPU over the window, percent of one core. */
  cpuPercent: number;
}

export interface FootprintResult {
  instanceType: string;
  env: Readonly<Record<string, string>>;
  pods: number;
  /** How the agent process was run. */
  program: { label: string; command: string; shipped: boolean };
  /** Set when the agent did not start this way (the rest of the figures are then zero). */
  failed?: string;
  /** Addresses the node held and had assigned when the loaded window was sampled. */
  addresses: number;
  assigned: number;
  idle: WindowSample;
  loaded: WindowSample;
  /** Restarted on its checkpoint with the pods' addresses: spawn to the first served CNI call. */
  startup: { servedMs: number; metricSeconds: number | undefined };
}

export interface ModuleLoadRss {
  /** What was imported, and the RSS (MB) of a node process right after. */
  what: string;
  rssMb: number;
}

export interface FootprintCase {
  instanceType: string;
  env: Readonly<Record<string, string>>;
  pods: number;
}

async function sampleWindow(pid: number, ticksPerSecond: number): Promise<WindowSample> {
  const t0 = systemClock.now();
  const ticks0 = await readCpuTicks(pid);
  let max = 0;
  let last = 0;
  while (systemClock.now() - t0 < SAMPLE_WINDOW_MS) {
    last = await readRssKb(pid);
    max = Math.max(max, last);
    await systemClock.sleep(SAMPLE_EVERY_MS);
  }
  const ticks = (await readCpuTicks(pid)) - ticks0;
  return {
    rssMaxMb: max / 1024,
    rssEndMb: last / 1024,
    cpuPercent: cpuPercent(ticks, ticksPerSecond, systemClock.now() - t0),
  };
}

async function addPods(agent: AgentUnderTest, pods: number): Promise<number> {
  let failed = 0;
  for (let i = 0; i < pods; i++) {
    const containerId = `footprint${String(i).padStart(5, '0')}`;
    const call = await callAgent({
      socketPath: agent.socketPath,
      request: {
        op: 'add',
        containerId,
        ifname: 'eth0',
        netns: `/var/run/netns/${containerId}`,
        network: 'aws-cni',
        pod: { namespace: 'default', name: `footprint-${i}`, uid: `uid-${i}`, infraContainerId: containerId },
      },
      timeoutMs: DEFAULT_ADD_TIMEOUT_MS,
      clock: systemClock,
    });
    if (call.kind !== 'answered' || !call.response.ok) failed++;
  }
  return failed;
}

const NO_WINDOW: WindowSample = { rssMaxMb: 0, rssEndMb: 0, cpuPercent: 0 };

/**
 * The agent's exposition text right after a restart. The agent serves CNI calls before its metrics
 * server listens (it starts once the spool is applied): ask again for a while.
 */
async function metricsOnceListening(agent: AgentUnderTest): Promise<string> {
  const deadline = systemClock.now() + METRICS_WAIT_MS;
  for (;;) {
    try {
      return await agent.metrics();
    } catch (err) {
      if (systemClock.now() > deadline) throw err;
      await systemClock.sleep(50);
    }
  }
}

const METRICS_WAIT_MS = 10_000;

/** The agent's awscni_ipamd_startup_duration_seconds in an exposition text. */
export function startupMetric(exposition: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith('awscni_ipamd_startup_duration_seconds '));
  const value = line === undefined ? NaN : Number(line.split(' ')[1]);
  return Number.isFinite(value) ? value : undefined;
}

/** The program as a command line, for the report (paths relative to dist/). */
export function commandOf(program: AgentProgram): string {
  const inRepo = (a: string): string => (a.startsWith('/') ? a.slice(a.lastIndexOf('/dist/') + 1) : a);
  const env = Object.entries(program.env).map(([k, v]) => `${k}=${inRepo(v)} `);
  const args = program.nodeArgs.map(inRepo);
  return `${env.join('')}node ${args.join(' ')} agent`;
}

export async function measureFootprint(
  footprint: FootprintCase,
  program: AgentProgram,
  ticksPerSecond: number,
): Promise<FootprintResult> {
  const describe = { label: program.label, command: commandOf(program), shipped: program.shipped };
  let agent: AgentUnderTest;
  try {
    agent = await startAgentUnderTest({
      instanceType: footprint.instanceType,
      env: { ...footprint.env, ...program.env },
      seed: 4,
      nodeArgs: program.nodeArgs,
    });
  } catch (err) {
    // A setting that stops the agent from starting is a result too (the report says which).
    const why = (err as Error).message;
    // The fatal log line names the cause; warnings logged before it do not.
    const fatalLine = why.split('\n').find((l) => l.includes('"level":"fatal"'));
    const fatal =
      (fatalLine === undefined ? undefined : /"err":"[^"]*"/.exec(fatalLine)?.[0]) ??
      why.split('\n')[0] ??
      why;
    return {
      ...footprint,
      program: describe,
      failed: fatal,
      addresses: 0,
      assigned: 0,
      idle: NO_WINDOW,
      loaded: NO_WINDOW,
      startup: { servedMs: 0, metricSeconds: undefined },
    };
  }
  try {
    await agent.warmPool();
    await systemClock.sleep(IDLE_SETTLE_MS);
    const idle = await sampleWindow(agent.pid, ticksPerSecond);
    const failed = await addPods(agent, footprint.pods);
    if (failed > 0) throw new Error(`${failed} of ${footprint.pods} ADDs failed`);
    await systemClock.sleep(LOADED_SETTLE_MS);
    const loaded = await sampleWindow(agent.pid, ticksPerSecond);
    const { enis } = await agent.introspect<{ enis: PoolEni[] }>('/v1/enis');
    const addresses = enis.reduce((n, e) => n + e.secondaryIps.length + 16 * e.prefixes.length, 0);
    const assigned = enis.reduce((n, e) => n + e.assigned, 0);
    const servedMs = await agent.restart();
    const metricSeconds = startupMetric(await metricsOnceListening(agent));
    return {
      ...footprint,
      program: describe,
      addresses,
      assigned,
      idle,
      loaded,
      startup: { servedMs, metricSeconds },
    };
  } finally {
    await agent.stop();
  }
}

/** RSS right after importing each of these, each in a fresh node process. */
export async function measureModuleLoads(): Promise<ModuleLoadRss[]> {
  const cases: { what: string; code: string }[] = [
    { what: "bare node (node -e '')", code: '' },
    { what: '@aws-sdk/client-ec2', code: "await import('@aws-sdk/client-ec2');" },
    { what: '@kubernetes/client-node', code: "await import('@kubernetes/client-node');" },
    {
      what: 'pino + prom-client + zod',
      code: "await Promise.all(['pino', 'prom-client', 'zod'].map((m) => import(m)));",
    },
    {
      what: 'the whole agent (dist/agent/main.js, not started)',
      code: `await import(${JSON.stringify(AGENT_MAIN)});`,
    },
  ];
  const results: ModuleLoadRss[] = [];
  for (const c of cases) {
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', `${c.code} process.stdout.write(String(process.memoryUsage().rss));`],
      { cwd: REPO_ROOT },
    );
    results.push({ what: c.what, rssMb: Number(stdout) / 1024 / 1024 });
  }
  // `eni-ipam agent --help` from the bundle loads the agent's chunks, then answers without
  // starting; the RSS is read as the process exits.
  const atExit =
    'data:text/javascript,process.on("exit",()=>process.stderr.write("rss="+process.memoryUsage().rss))';
  const { stderr } = await run(
    process.execPath,
    ['--import', atExit, AGENT_BUNDLE_ENTRY, 'agent', '--help'],
    {
      cwd: REPO_ROOT,
    },
  );
  results.push({
    what: 'the whole agent from the bundle (dist/bundle, not started)',
    rssMb: Number(/rss=(\d+)/.exec(stderr)?.[1]) / 1024 / 1024,
  });
  return results;
}

/** Clock ticks per second of /proc/PID/stat (USER_HZ, almost always 100). */
export async function ticksPerSecond(): Promise<number> {
  try {
    const { stdout } = await run('getconf', ['CLK_TCK']);
    const n = Number(stdout.trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}
