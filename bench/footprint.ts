/**
 * Benchmark 4: what the agent costs on the node. A real agent process on the HTTP simulator is
 * sampled from outside (/proc/PID/status VmRSS, /proc/PID/stat CPU ticks) at idle and again with
 * pods holding addresses; and, to say what dominates the resident memory, separate node processes
 * measure the RSS of loading only the big dependencies and of loading the whole agent.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { callAgent } from '../cni/agent-client.js';
import { DEFAULT_ADD_TIMEOUT_MS } from '../cni/timeouts.js';
import { systemClock } from '../time/clock.js';
import { startAgentUnderTest, type AgentUnderTest, type PoolEni } from './agent-under-test.js';
import { cpuPercent, readCpuTicks, readRssKb } from './proc-stats.js';

const run = promisify(execFile);

/** Long enough for the agent's periodic work (resync, cooldown sweeps) to show; short enough to run. */
const SAMPLE_WINDOW_MS = 15_000;
const SAMPLE_EVERY_MS = 500;
/**
 * Idle is measured this long after the pool is warm: the first seconds after start-up still carry
 * start-up work (JIT tiering, collecting the garbage of loading the SDK), which is not what a node
 * pays while nothing happens.
 */
const IDLE_SETTLE_MS = 30_000;
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
  /** Addresses the node held and had assigned when the loaded window was sampled. */
  addresses: number;
  assigned: number;
  idle: WindowSample;
  loaded: WindowSample;
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

export async function measureFootprint(
  footprint: FootprintCase,
  ticksPerSecond: number,
): Promise<FootprintResult> {
  const agent = await startAgentUnderTest({
    instanceType: footprint.instanceType,
    env: footprint.env,
    seed: 4,
  });
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
    return { ...footprint, addresses, assigned, idle, loaded };
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
