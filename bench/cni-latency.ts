/**
 * Benchmark 3: the CNI plugin's latency as the runtime sees it. Sequential ADD + DEL pairs, each
 * an execution of the real plugin (`node dist/cni/main.js`, netconf on stdin, CNI_* in the
 * environment) against a real agent process on a warm pool, interleaved with executions of a bare
 * `node -e ''`, so both see the same machine load. The plugin cannot start faster than node does:
 * the bare start-up is its floor.
 */
import { spawn } from 'node:child_process';
import { systemClock } from '../time/clock.js';
import { PLUGIN_ENTRY, startAgentUnderTest } from './agent-under-test.js';
import { summarize, type Summary } from './stats.js';
import { startStopwatch } from './stopwatch.js';

export interface CniLatencyOptions {
  pairs: number;
  /** Single executables of the plugin (the shipped one and its alternatives), measured alongside. */
  executables: readonly { label: string; path: string; shipped: boolean }[];
  /** Stop earlier once this much real time has passed (a loaded machine); the report says how many ran. */
  budgetMs: number;
}

export interface CniLatencyResult {
  pairs: number;
  add: Summary;
  del: Summary;
  bareNode: Summary;
  /**
   * The plugin's VERSION (every VERSION_EVERY-th pair): its own start-up and output, no socket, so
   * ADD minus VERSION is the agent round trip.
   */
  version: Summary;
  /** Each single executable's ADD and DEL, when it could be built. */
  executables: { label: string; shipped: boolean; add: Summary; del: Summary }[];
  failures: number;
}

const VERSION_EVERY = 4;

interface Exec {
  code: number | null;
  stdout: string;
  ms: number;
}

function run(command: string, args: string[], env: Record<string, string>, stdin: string): Promise<Exec> {
  const elapsed = startStopwatch();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout, ms: elapsed() });
    });
    // A command that reads no stdin (VERSION, `node -e ''`) may exit before the write lands: EPIPE
    // is then expected, and the exit code tells whether the run went well.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

export async function measureCniLatency(options: CniLatencyOptions): Promise<CniLatencyResult> {
  // Cooldown 0: sequential pairs would otherwise leave a trail of cooling addresses behind them and
  // drain the warm pool; with it, each ADD finds a free address and no EC2 call is in the loop.
  const agent = await startAgentUnderTest({
    instanceType: 'm5.large',
    env: { IP_COOLDOWN_PERIOD: '0' },
    seed: 3,
  });
  const netconf = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'aws-cni',
    type: 'ptp',
    ipam: { type: 'eni-ipam', socket: agent.socketPath, spoolPath: agent.spoolPath },
  });
  const base = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_PATH: '/opt/cni/bin', CNI_IFNAME: 'eth0' };
  const adds: number[] = [];
  const dels: number[] = [];
  const exe = options.executables.map((e) => ({ ...e, adds: [] as number[], dels: [] as number[] }));
  const bare: number[] = [];
  const versions: number[] = [];
  let failures = 0;
  const pair = async (
    command: string,
    args: string[],
    id: string,
    into: [number[], number[]],
  ): Promise<void> => {
    const pod = `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id};K8S_POD_UID=uid-${id};K8S_POD_INFRA_CONTAINER_ID=${id}`;
    const env = { ...base, CNI_CONTAINERID: id, CNI_NETNS: `/var/run/netns/${id}`, CNI_ARGS: pod };
    const add = await run(command, args, { ...env, CNI_COMMAND: 'ADD' }, netconf);
    if (add.code !== 0 || !add.stdout.includes('"ips"')) failures++;
    into[0].push(add.ms);
    const del = await run(command, args, { ...env, CNI_COMMAND: 'DEL' }, netconf);
    if (del.code !== 0) failures++;
    into[1].push(del.ms);
  };
  const started = systemClock.now();
  try {
    await agent.warmPool();
    for (let i = 0; i < options.pairs && systemClock.now() - started < options.budgetMs; i++) {
      bare.push((await run(process.execPath, ['-e', ''], { PATH: base.PATH }, '')).ms);
      if (i % VERSION_EVERY === 0) {
        const version = await run(process.execPath, [PLUGIN_ENTRY], { ...base, CNI_COMMAND: 'VERSION' }, '');
        if (version.code !== 0) failures++;
        versions.push(version.ms);
      }
      const n = String(i).padStart(6, '0');
      await pair(process.execPath, [PLUGIN_ENTRY], `bench${n}`, [adds, dels]);
      for (const [k, e] of exe.entries()) await pair(e.path, [], `sea${k}x${n}`, [e.adds, e.dels]);
    }
  } finally {
    await agent.stop();
  }
  return {
    pairs: adds.length,
    add: summarize(adds),
    del: summarize(dels),
    bareNode: summarize(bare),
    version: summarize(versions),
    executables: exe.map((e) => ({
      label: e.label,
      shipped: e.shipped,
      add: summarize(e.adds),
      del: summarize(e.dels),
    })),
    failures,
  };
}
