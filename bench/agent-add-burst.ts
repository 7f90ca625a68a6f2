/**
 * The agent's side of an ADD, without the plugin's process start: 200 ADD requests sent at once
 * over the agent's unix socket, each timed from its connect to its answer (socket in to socket
 * out, as the plugin sees it), on a pool that already holds a free address for each of them. Then
 * the 200 DELs, and again, for several bursts. Beside it, two figures that say what the burst
 * figure is made of: the same ADDs one at a time (the agent's work for one ADD, with no queue), and
 * the same burst against bench/echo-agent.ts, the agent's endpoint with a backend that does
 * nothing (the floor: what 200 connections at once cost between two processes on this machine).
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
import { summarize, type Summary } from './stats.js';
import { startStopwatch } from './stopwatch.js';

export interface AddBurstResult {
  command: string;
  burst: number;
  bursts: number;
  add: Summary;
  del: Summary;
  /** The same ADDs sent one at a time: socket in to socket out with no queue. */
  alone: Summary;
  /** The same bursts against a do-nothing backend behind the same endpoint and node flags. */
  floor: Summary;
  failures: number;
}

const ECHO_AGENT = fileURLToPath(new URL('./echo-agent.js', import.meta.url));

const WARM_TIMEOUT_MS = 120_000;

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
  let failures = 0;
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
    for (let b = 0; b < bursts; b++) {
      const ids = idsOf(`burst${b}`, burst);
      await Promise.all(ids.map((id) => timed(addOf(id), adds)));
      await Promise.all(ids.map((id) => timed(delOf(id), dels)));
    }
    const ids = idsOf('alone', burst);
    for (const id of ids) await timed(addOf(id), alone);
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
    add: summarize(adds),
    del: summarize(dels),
    alone: summarize(alone),
    floor,
    failures,
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
