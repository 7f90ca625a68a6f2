import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/runner/runner.js';
import { parseScenario, type Scenario } from '../../sim/runner/scenario.js';

function scenarioFile(name: string): Scenario {
  return parseScenario(
    JSON.parse(readFileSync(new URL(`../../scenarios/${name}`, import.meta.url), 'utf8')) as unknown,
  );
}

const ec2 = {
  subnets: [
    { id: 'subnet-a', az: 'us-east-1a', cidr: '10.0.0.0/20', tags: { 'kubernetes.io/role/cni': '1' } },
  ],
  latencyMs: {
    CreateNetworkInterface: 400,
    AttachNetworkInterface: 2000,
    AssignPrivateIpAddresses: 300,
    default: 100,
  },
  visibilityDelayMs: 1000,
};

const clean = { leakedAddresses: 0, leakedEnis: 0, doubleAssignments: 0, accountingMismatches: 0 };

describe('eni-ipam simulate: bursts and agent failures', () => {
  it('serves a burst of 200 pods on one m5.4xlarge with default settings without a failed ADD', async () => {
    const { report } = await runScenario(scenarioFile('burst-m5-4xlarge.json'));
    expect(report.pods).toMatchObject({ requested: 200, gotAddress: 200 });
    expect(report.ec2.errors).toEqual({});
    expect(report.pods.failedAdds).toBe(0);
    expect(report.end).toEqual(clean);
  });

  it('frees the addresses of pods deleted while the agent was down (their DELs were lost)', async () => {
    const { report, pods } = await runScenario(
      parseScenario({
        seed: 4,
        durationSeconds: 300,
        ec2,
        nodes: [{ name: 'node', instanceType: 'm5.large', subnet: 'subnet-a' }],
        pods: [{ node: 'node', startSecond: 5, count: 20, overSeconds: 10 }],
        events: [
          { atSecond: 60, action: 'deletePodsWhileAgentDown', node: 'node', count: 8, downSeconds: 30 },
        ],
      }),
    );
    expect(pods.filter((p) => p.deleted)).toHaveLength(8);
    expect(report.pods).toMatchObject({ requested: 20, gotAddress: 20 });
    // Only the 12 live pods hold addresses: the pod watch told the agent the 8 others are gone.
    expect(report.nodes[0]?.assigned).toBe(12);
    expect(report.end).toEqual(clean);
  });

  it('ships a leaks scenario that ends clean', async () => {
    const { report, pods } = await runScenario(scenarioFile('leaks.json'));
    const live = pods.filter((p) => !p.deleted && p.address !== undefined).length;
    expect(report.nodes.reduce((n, node) => n + node.assigned, 0)).toBe(live);
    expect(report.end).toEqual(clean);
  });

  it('after a kill mid-burst and a restart, no address is held twice and every answered pod keeps its address', async () => {
    const { report, pods, podsThatLostTheirAddress } = await runScenario(
      parseScenario({
        seed: 9,
        // Long enough for the restarted agent's leaked-ENI scan (every 5 min) to pass once.
        durationSeconds: 400,
        ec2,
        nodes: [
          {
            name: 'node',
            count: 2,
            instanceType: 'm5.xlarge',
            subnet: 'subnet-a',
            env: { WARM_IP_TARGET: '2', ENI_IPAM_LEAKED_ENI_GRACE_SECONDS: '60' },
          },
        ],
        pods: [{ node: 'node', startSecond: 20, count: 80, overSeconds: 4 }],
        events: [{ atSecond: 21, action: 'killAgent', node: 'node-0', downSeconds: 10 }],
      }),
    );
    // The kill hit while ADDs were being answered: some failed and were retried by the runtime.
    expect(pods.filter((p) => p.node === 'node-0' && p.failedAdds > 0).length).toBeGreaterThan(0);
    expect(report.pods).toMatchObject({ requested: 80, gotAddress: 80 });
    expect(podsThatLostTheirAddress).toEqual([]);
    expect(new Set(pods.map((p) => p.address)).size).toBe(80);
    expect(report.end.doubleAssignments).toBe(0);
    // Whatever the dead process left behind (an ENI created but not attached) is gone by the end.
    expect(report.end.leakedEnis).toBe(0);
    expect(report.end).toEqual(clean);
  });

  it('a node killed for good keeps its addresses on disk, and its dead agent sends nothing more to EC2', async () => {
    const killedAt40 = (durationSeconds: number): Scenario =>
      parseScenario({
        seed: 2,
        durationSeconds,
        ec2,
        nodes: [{ name: 'node', instanceType: 'm5.large', subnet: 'subnet-a' }],
        pods: [{ node: 'node', startSecond: 5, count: 5 }],
        events: [{ atSecond: 40, action: 'killAgent', node: 'node' }],
      });
    const { report } = await runScenario(killedAt40(45));
    expect(report.pods.gotAddress).toBe(5);
    expect(report.nodes[0]?.assigned).toBe(5);
    expect(report.end).toEqual(clean);
    // A live agent would have resynced with EC2 every minute of the longer run.
    const longer = await runScenario(killedAt40(400));
    expect(longer.report.ec2).toEqual(report.ec2);
    expect(longer.report.end).toEqual(clean);
  });
});
