/**
 * Issue 7, case 3 (first half): kill -9 of the agent at 20 seeded moments during bursts of CNI
 * ADDs and DELs. After each restart the user's checks must hold: no address held twice; every
 * address and ENI EC2 holds for the node is in the agent's books and nothing more (no leak); every
 * pod whose ADD was answered keeps its address (a repeated ADD returns it). The runtime is played
 * as containerd plays it: a failed ADD is followed by a DEL of that sandbox, a failed DEL is
 * retried. The IPAM plugin is run alone (ptp would only add veths around it), so each round costs
 * little more than the agent's restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../sim/random.js';
import { systemClock } from '../../time/clock.js';
import {
  startAgentProcess,
  startSimulatedNode,
  type AgentProcess,
  type SimulatedNode,
} from './harness/agent-process.js';
import { createCniBinDir, type CniBinDir } from './harness/cni-bin.js';
import {
  ipamAdd,
  ipamDel,
  podAttachment,
  type CniAnswer,
  type PodAttachment,
} from './harness/cni-runtime.js';
import { BALANCED, balanced, settledAccounting } from './harness/ec2-truth.js';
import { CREATED_AT_TAG, INSTANCE_ID_TAG, MANAGED_TAG, MANAGED_TAG_VALUE } from '../../provider/eni-tags.js';

const ROUNDS = 20;
/** m5.large holds 27 pod addresses (3 ENIs x 9); the live set stays below that, so no ADD is refused for room. */
const MAX_LIVE_PODS = 20;
/** The kill lands anywhere from before the first call reaches the agent to after the last answer. */
const KILL_WINDOW_MS = 600;
/** A repeated DEL that still fails after this many tries is a failure of the agent, not bad luck. */
const DEL_ATTEMPTS = 5;
const DEL_RETRY_MS = 500;

interface LivePod {
  readonly pod: PodAttachment;
  readonly address: string;
}

async function delUntilDone(
  bin: CniBinDir,
  agent: AgentProcess,
  pod: PodAttachment,
  address?: string,
): Promise<CniAnswer> {
  let last: CniAnswer | undefined;
  for (let attempt = 0; attempt < DEL_ATTEMPTS; attempt++) {
    last = await ipamDel(bin, agent, pod, address);
    if (last.exitCode === 0) return last;
    await systemClock.sleep(DEL_RETRY_MS);
  }
  if (!last) throw new Error('no DEL was run');
  return last;
}

describe('kill -9 of the agent during CNI bursts', () => {
  let node: SimulatedNode;
  let agent: AgentProcess;
  let bin: CniBinDir;

  beforeAll(async () => {
    bin = await createCniBinDir('debian');
    node = await startSimulatedNode({ instanceType: 'm5.large', sim: { seed: 21 } });
    // A small warm pool and a short cooldown keep EC2 busy (assign, unassign, create, attach) while
    // the bursts come, so the kills land in the middle of EC2 work too.
    agent = await startAgentProcess({
      node,
      env: { WARM_IP_TARGET: '2', IP_COOLDOWN_PERIOD: '1', ENI_IPAM_ADD_WAIT_SECONDS: '5' },
    });
  });
  afterAll(async () => {
    await agent?.stop();
    await node?.close();
    await agent?.removeState();
    await bin?.remove();
  });

  it(`keeps its books straight across ${ROUNDS} kills at seeded moments`, { timeout: 300_000 }, async () => {
    const live = new Map<string, LivePod>();
    const leakedEnis: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const seed = 1000 + round;
      const random = new SeededRandom(seed);
      const context = (what: string): string =>
        `round ${round} (seed ${seed}): ${what}\nagent log tail:\n${agent.output().slice(-3000)}`;

      const leaving = [...live.values()].filter(() => random.chance(0.4));
      const room = MAX_LIVE_PODS - (live.size - leaving.length);
      const arriving = Array.from({ length: Math.min(room, 2 + random.int(7)) }, (_, i) =>
        podAttachment(`r${round}-${i}`),
      );
      const killAfterMs = random.int(KILL_WINDOW_MS);

      const adds = arriving.map((pod) => ipamAdd(bin, agent, pod));
      const dels = leaving.map((gone) => ipamDel(bin, agent, gone.pod, gone.address));
      await systemClock.sleep(killAfterMs);
      await agent.kill();
      const [added, deleted] = await Promise.all([Promise.all(adds), Promise.all(dels)]);
      await agent.start();

      // The runtime's side: answered ADDs are running pods; a failed ADD's sandbox is torn down
      // (DEL); a DEL that failed is repeated until it succeeds.
      const followUps: Promise<void>[] = [];
      for (const [i, outcome] of added.entries()) {
        const pod = arriving[i];
        if (!pod) continue;
        if (outcome.exitCode === 0 && outcome.address !== undefined) {
          live.set(pod.containerId, { pod, address: outcome.address });
        } else {
          expect(
            outcome.errorCode,
            context(`a failed ADD must print CNI error JSON: ${outcome.stdout}`),
          ).toBeTypeOf('number');
          followUps.push(
            delUntilDone(bin, agent, pod).then((d) => {
              expect(d.exitCode, context(`DEL after a failed ADD: ${d.stdout}`)).toBe(0);
            }),
          );
        }
      }
      for (const [i, outcome] of deleted.entries()) {
        const gone = leaving[i];
        if (!gone) continue;
        live.delete(gone.pod.containerId);
        if (outcome.exitCode !== 0) {
          followUps.push(
            delUntilDone(bin, agent, gone.pod, gone.address).then((d) => {
              expect(d.exitCode, context(`repeated DEL: ${d.stdout}`)).toBe(0);
            }),
          );
        }
      }
      await Promise.all(followUps);

      // Every answered pod keeps its address: ADD again for the same container gives the same one.
      const again = await Promise.all(
        [...live.values()].map(async (p) => ({ p, outcome: await ipamAdd(bin, agent, p.pod) })),
      );
      for (const { p, outcome } of again) {
        expect(outcome.exitCode, context(`repeated ADD of a running pod: ${outcome.stdout}`)).toBe(0);
        expect(outcome.address, context(`pod ${p.pod.name} lost ${p.address}`)).toBe(p.address);
      }

      // Detached ENIs are judged apart: the agent deletes them on its leaked-ENI scan, which runs
      // minutes later by design; everything else must balance as soon as EC2 work in flight ends.
      const report = await settledAccounting(node, agent, {
        settledWhen: (r) => balanced({ ...r, leakedEnis: [] }),
      });
      expect({ ...report, leakedEnis: [] }, context('books after restart')).toEqual(BALANCED);
      for (const eniId of report.leakedEnis) {
        const eni = node.cloud.eni(eniId);
        // Left behind, it must at least be findable by the reaper's filter (managed tag, instance, age).
        expect(eni?.tags, context(`leaked ${eniId} is not tagged for the reaper`)).toMatchObject({
          [MANAGED_TAG]: MANAGED_TAG_VALUE,
          [INSTANCE_ID_TAG]: node.instance.instanceId,
          [CREATED_AT_TAG]: expect.any(String) as unknown,
        });
        if (!leakedEnis.some((l) => l.startsWith(eniId)))
          leakedEnis.push(
            `${eniId} (${eni?.status ?? 'gone'}, ${eni?.secondaryIps.length ?? 0} secondary IPs) after round ${round}`,
          );
      }
      const held = new Map((await agent.pods()).map((p) => [p.containerId, p.ip]));
      const expected = new Map([...live.values()].map((p) => [p.pod.containerId, p.address]));
      expect(held, context('the agent holds exactly the running pods')).toEqual(expected);
      expect(new Set(expected.values()).size, context('two running pods share an address')).toBe(
        expected.size,
      );
    }
    // Zero leaked ENIs: an ENI made for this node and attached to nothing after a restart.
    expect(leakedEnis, 'ENIs left detached by a kill and not deleted by the restarted agent').toEqual([]);
  });
});
