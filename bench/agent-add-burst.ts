/**
 * The agent's side of an ADD, without the plugin's process start: 200 ADD requests sent at once
 * over the agent's unix socket, on a pool that already holds a free address for each of them. Then
 * the 200 DELs, and again, for several bursts. Each request is timed twice:
 * - by the agent itself, socket in to socket out (from its last byte read to its answer written),
 *   as its introspection API serves it (/v1/cni-requests): the target's measure, the agent's own
 *   time per request;
 * - by this client, from its connect to the answer: that adds the connection's wait in the
 *   listen queue and the agent's event loop, which under 200 connections at once between two
 *   processes on two cores is most of it.
 * Beside them, the same ADDs one at a time (no queue), and the same burst against
 * bench/echo-agent.ts, the agent's endpoint with a backend that does nothing (the floor: what 200
 * connections at once cost between two processes on this machine, as the client sees it). And how
 * long the agent's main thread ran during the bursts and how long it waited for a CPU: every
 * millisecond it waits, the requests it has read wait with it, socket in to socket out.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callAgent } from '../cni/agent-client.js';
import type { AgentRequest } from '../cni/protocol.js';
import { DEFAULT_ADD_TIMEOUT_MS } from '../cni/timeouts.js';
import { systemClock } from '../time/clock.js';
import type { AgentProgram } from './agent-programs.js';
import { runDirBase, startAgentUnderTest, type PoolEni } from './agent-under-test.js';
import { commandOf } from './footprint.js';
import { readMainThreadSchedstat, type SchedStat } from './proc-stats.js';
import { summarize, type Summary } from './stats.js';
import { startStopwatch } from './stopwatch.js';

/** The agent's own time per request, socket in to socket out (/v1/cni-requests). */
export interface AgentSideFigures {
  add: Summary;
  del: Summary;
  /** The ADDs sent one at a time. */
  alone: Summary;
  /** The ADDs of each burst on their own, in order. */
  addPerBurst: Summary[];
}

export interface AddBurstResult {
  command: string;
  burst: number;
  bursts: number;
  /** The target's measure: what the agent took over each request. */
  agentSide: AgentSideFigures;
  /** As the client saw them: from its connect to the answer. */
  add: Summary;
  del: Summary;
  /** The same ADDs sent one at a time, as the client saw them. */
  alone: Summary;
  /** The same bursts against a do-nothing backend behind the same endpoint and node flags. */
  floor: Summary;
  failures: number;
  /**
   * The agent's main thread over the bursts (ADDs and DELs): time on a CPU, and time ready but
   * waiting for one (undefined where the kernel keeps no schedstat).
   */
  agentThread?: SchedStat;
}

const ECHO_AGENT = fileURLToPath(new URL('./echo-agent.js', import.meta.url));

const WARM_TIMEOUT_MS = 120_000;

/** The fields of /v1/cni-requests this bench reads. */
interface CniRequestSample {
  seq: number;
  command: string;
  result: string;
  ms: number;
}

export async function measureAddBurst(
  program: AgentProgram,
  burst = 200,
  bursts = 5,
): Promise<AddBurstResult> {
  // 13 warm /28 prefixes: 208 free addresses, one for every ADD of the burst.
  const agent = await startAgentUnderTest({
    instanceType: 'm5.8xlarge',
    env: {
      ...program.env,
      ENABLE_PREFIX_DELEGATION: 'true',
      WARM_PREFIX_TARGET: String(Math.ceil(burst / 16)),
      IP_COOLDOWN_PERIOD: '0',
    },
    seed: 8,
    nodeArgs: program.nodeArgs,
  });
  const adds: number[] = [];
  const dels: number[] = [];
  const alone: number[] = [];
  const agentAdds: number[][] = [];
  const agentDels: number[] = [];
  let agentAlone: number[] = [];
  let agentThread: SchedStat | undefined;
  let failures = 0;
  // The agent's figures of the requests answered since the last call, of one command; each must be
  // there (the agent keeps the last 2048), or the figure would be of fewer requests than it says.
  let seen = -1;
  const answeredSince = async (): Promise<CniRequestSample[]> => {
    const { requests } = await agent.introspect<{ requests: CniRequestSample[] }>('/v1/cni-requests');
    const fresh = requests.filter((r) => r.seq > seen);
    seen = requests.at(-1)?.seq ?? seen;
    return fresh;
  };
  const agentTimes = async (command: string, expected: number): Promise<number[]> => {
    const fresh = await answeredSince();
    const times = fresh.filter((r) => r.command === command && r.result === 'ok').map((r) => r.ms);
    if (times.length !== expected)
      throw new Error(`the agent reported ${times.length} ${command} requests answered ok, not ${expected}`);
    return times;
  };
  const timed = async (
    request: AgentRequest,
    into: number[],
    socketPath = agent.socketPath,
  ): Promise<void> => {
    const elapsed = startStopwatch();
    const call = await callAgent({
      socketPath,
      request,
      timeoutMs: DEFAULT_ADD_TIMEOUT_MS,
      clock: systemClock,
    });
    into.push(elapsed());
    if (call.kind !== 'answered' || !call.response.ok) failures++;
  };
  try {
    const deadline = systemClock.now() + WARM_TIMEOUT_MS;
    for (;;) {
      const { enis } = await agent.introspect<{ enis: PoolEni[] }>('/v1/enis');
      const free = enis.reduce(
        (n, e) => n + e.secondaryIps.length + 16 * e.prefixes.length - e.assigned - e.cooling,
        0,
      );
      if (free >= burst && !enis.some((e) => e.busy === true)) break;
      if (systemClock.now() > deadline) throw new Error(`the pool held ${free} free addresses, not ${burst}`);
      await systemClock.sleep(200);
    }
    await answeredSince();
    const threadBefore = await readMainThreadSchedstat(agent.pid);
    for (let b = 0; b < bursts; b++) {
      const ids = idsOf(`burst${b}`, burst);
      await Promise.all(ids.map((id) => timed(addOf(id), adds)));
      agentAdds.push(await agentTimes('add', burst));
      await Promise.all(ids.map((id) => timed(delOf(id), dels)));
      agentDels.push(...(await agentTimes('del', burst)));
    }
    const threadAfter = await readMainThreadSchedstat(agent.pid);
    if (threadBefore && threadAfter) {
      agentThread = {
        runMs: threadAfter.runMs - threadBefore.runMs,
        waitMs: threadAfter.waitMs - threadBefore.waitMs,
      };
    }
    const ids = idsOf('alone', burst);
    for (const id of ids) await timed(addOf(id), alone);
    agentAlone = await agentTimes('add', burst);
    // Their DELs free the addresses again; the DEL figure is the bursts'.
    for (const id of ids) await timed(delOf(id), []);
  } finally {
    await agent.stop();
  }
  const floor = await measureFloor(program, burst, bursts);
  return {
    command: commandOf(program),
    burst,
    bursts,
    agentSide: {
      add: summarize(agentAdds.flat()),
      del: summarize(agentDels),
      alone: summarize(agentAlone),
      addPerBurst: agentAdds.map((times) => summarize(times)),
    },
    add: summarize(adds),
    del: summarize(dels),
    alone: summarize(alone),
    floor,
    failures,
    ...(agentThread ? { agentThread } : {}),
  };
}

function idsOf(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}x${String(i).padStart(3, '0')}`);
}

function podOf(id: string): { namespace: string; name: string; uid: string; infraContainerId: string } {
  return { namespace: 'default', name: id, uid: `uid-${id}`, infraContainerId: id };
}

function addOf(id: string): AgentRequest {
  return {
    op: 'add',
    containerId: id,
    ifname: 'eth0',
    netns: `/var/run/netns/${id}`,
    network: 'aws-cni',
    pod: podOf(id),
  };
}

function delOf(id: string): AgentRequest {
  return { op: 'del', containerId: id, ifname: 'eth0', network: 'aws-cni', pod: podOf(id) };
}

/** The same bursts of ADDs against bench/echo-agent.ts, run with the program's node flags. */
async function measureFloor(program: AgentProgram, burst: number, bursts: number): Promise<Summary> {
  const dir = await mkdtemp(join(runDirBase(), 'eni-ipam-bench-floor-'));
  const socketPath = join(dir, 'echo.sock');
  const flags = program.nodeArgs.filter((a) => a.startsWith('--'));
  const child = spawn(process.execPath, [...flags, ECHO_AGENT, socketPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { PATH: process.env['PATH'] ?? '', ...program.env },
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => {
        resolve();
      });
      child.once('exit', (code) => {
        reject(new Error(`the echo agent exited with ${String(code)}`));
      });
    });
    const times: number[] = [];
    for (let b = 0; b < bursts; b++) {
      await Promise.all(
        idsOf(`floor${b}`, burst).map(async (id) => {
          const elapsed = startStopwatch();
          const call = await callAgent({
            socketPath,
            request: addOf(id),
            timeoutMs: DEFAULT_ADD_TIMEOUT_MS,
            clock: systemClock,
          });
          times.push(elapsed());
          if (call.kind !== 'answered') throw new Error(`the echo agent did not answer: ${call.reason}`);
        }),
      );
    }
    return summarize(times);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
}
