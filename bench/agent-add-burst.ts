/**
 * The agent's side of an ADD, without the plugin's process start: 200 ADD requests sent at once
 * over the agent's unix socket, each timed from its connect to its answer (socket in to socket
 * out, as the plugin sees it), on a pool that already holds a free address for each of them. Then
 * the 200 DELs, and again, for several bursts.
 */
import { callAgent } from '../cni/agent-client.js';
import type { AgentRequest } from '../cni/protocol.js';
import { DEFAULT_ADD_TIMEOUT_MS } from '../cni/timeouts.js';
import { systemClock } from '../time/clock.js';
import type { AgentProgram } from './agent-programs.js';
import { startAgentUnderTest, type PoolEni } from './agent-under-test.js';
import { commandOf } from './footprint.js';
import { summarize, type Summary } from './stats.js';
import { startStopwatch } from './stopwatch.js';

export interface AddBurstResult {
  command: string;
  burst: number;
  bursts: number;
  add: Summary;
  del: Summary;
  failures: number;
}

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
  let failures = 0;
  const timed = async (request: AgentRequest, into: number[]): Promise<void> => {
    const elapsed = startStopwatch();
    const call = await callAgent({
      socketPath: agent.socketPath,
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
      const ids = Array.from({ length: burst }, (_, i) => `burst${b}x${String(i).padStart(3, '0')}`);
      const pod = (id: string) => ({
        namespace: 'default',
        name: id,
        uid: `uid-${id}`,
        infraContainerId: id,
      });
      await Promise.all(
        ids.map((id) =>
          timed(
            {
              op: 'add',
              containerId: id,
              ifname: 'eth0',
              netns: `/var/run/netns/${id}`,
              network: 'aws-cni',
              pod: pod(id),
            },
            adds,
          ),
        ),
      );
      await Promise.all(
        ids.map((id) =>
          timed({ op: 'del', containerId: id, ifname: 'eth0', network: 'aws-cni', pod: pod(id) }, dels),
        ),
      );
    }
  } finally {
    await agent.stop();
  }
  return { command: commandOf(program), burst, bursts, add: summarize(adds), del: summarize(dels), failures };
}
