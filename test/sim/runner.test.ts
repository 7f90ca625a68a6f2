import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario, ScenarioError, type Scenario } from '../../sim/runner/scenario.js';
import { runScenario } from '../../sim/runner/runner.js';
import { percentiles, type ScenarioReport } from '../../sim/runner/report.js';

function scenarioFile(name: string): Scenario {
  return parseScenario(
    JSON.parse(readFileSync(new URL(`../../scenarios/${name}`, import.meta.url), 'utf8')) as unknown,
  );
}

function withoutWallTime(report: ScenarioReport): Omit<ScenarioReport, 'wallSeconds'> {
  const rest: Partial<ScenarioReport> = { ...report };
  delete rest.wallSeconds;
  return rest as Omit<ScenarioReport, 'wallSeconds'>;
}

describe('eni-ipam simulate: the example scenario', () => {
  it('gives every pod an address with no failed ADD, leak, double assignment or mismatch', async () => {
    const { report, podsThatLostTheirAddress } = await runScenario(scenarioFile('example.json'));
    expect(report.pods).toMatchObject({ requested: 100, gotAddress: 100, failedAdds: 0 });
    expect(report.end).toEqual({
      leakedAddresses: 0,
      leakedEnis: 0,
      doubleAssignments: 0,
      accountingMismatches: 0,
    });
    expect(podsThatLostTheirAddress).toEqual([]);
    expect(report.nodes).toHaveLength(1);
    expect(report.nodes[0]).toMatchObject({ name: 'node-a-0', assigned: 100 });
    // The bundled table knows the m5.4xlarge: no DescribeInstanceTypes. Each process lists its ENIs
    // from instance metadata and scans once for leaked ENIs at start; the restart at 120 s started a
    // second process, which also asked once for the tags of the ENIs the first one had attached.
    expect(report.ec2.calls.DescribeInstanceTypes).toBeUndefined();
    expect(report.ec2.calls.DescribeNetworkInterfaces).toBe(3);
    expect(report.ec2.calls.DescribeSubnets).toBe(2);
    expect(report.simulatedSeconds).toBeGreaterThanOrEqual(600);
  });

  it('gives the same report for the same seed (wall time aside), and another for another seed', async () => {
    // Small, but with every source of variation: faults, timeouts, churn, a kill and a restart.
    const scenario = parseScenario({
      seed: 21,
      durationSeconds: 240,
      ec2: {
        subnets: [{ id: 'subnet-a', az: 'us-east-1a', cidr: '10.0.0.0/22' }],
        latencyMs: { AttachNetworkInterface: 1500, default: 100 },
        visibilityDelayMs: 500,
        faults: { serverErrorRate: 0.05, timeoutRate: 0.01 },
      },
      nodes: [{ name: 'node', count: 2, instanceType: 'm5.large', subnet: 'subnet-a' }],
      pods: [{ node: 'node', startSecond: 5, count: 40, overSeconds: 60, lifetimeSeconds: 45 }],
      events: [
        { atSecond: 30, action: 'killAgent', node: 'node-0', downSeconds: 5 },
        { atSecond: 50, action: 'restartAgent', node: 'node-1' },
      ],
    });
    const first = await runScenario(scenario);
    // The run did meet faults and failures, so there was something to reproduce.
    expect(Object.keys(first.report.ec2.errors)).not.toEqual([]);
    expect(first.report.pods.failedAdds).toBeGreaterThan(0);
    const second = await runScenario(scenario);
    expect(withoutWallTime(second.report)).toEqual(withoutWallTime(first.report));
    expect(JSON.stringify(withoutWallTime(second.report))).toBe(
      JSON.stringify(withoutWallTime(first.report)),
    );
    const reseeded = await runScenario({ ...scenario, seed: scenario.seed + 1 });
    expect(second.pods.map((p) => p.address)).not.toEqual(reseeded.pods.map((p) => p.address));
  });
});

describe('eni-ipam simulate --realtime', () => {
  it('runs the agents against the simulated EC2 over HTTP on loopback, in real time', async () => {
    const { report } = await runScenario(
      parseScenario({
        seed: 3,
        durationSeconds: 3,
        ec2: {
          subnets: [{ id: 'subnet-a', az: 'us-east-1a', cidr: '10.0.0.0/24' }],
          latencyMs: { default: 20 },
          visibilityDelayMs: 100,
        },
        nodes: [{ name: 'rt', instanceType: 'm5.large', subnet: 'subnet-a' }],
        pods: [{ node: 'rt', startSecond: 0.5, count: 4, overSeconds: 1 }],
      }),
      { realtime: true },
    );
    expect(report.pods).toMatchObject({ requested: 4, gotAddress: 4 });
    expect(report.ec2.calls.AssignPrivateIpAddresses).toBeGreaterThan(0);
    expect(report.end).toEqual({
      leakedAddresses: 0,
      leakedEnis: 0,
      doubleAssignments: 0,
      accountingMismatches: 0,
    });
    expect(report.wallSeconds).toBeGreaterThanOrEqual(3);
  });
});

describe('scenario parsing', () => {
  const minimal = {
    seed: 1,
    durationSeconds: 10,
    ec2: { subnets: [{ id: 'subnet-a', az: 'us-east-1a', cidr: '10.0.0.0/24' }] },
    nodes: [{ name: 'node-a', instanceType: 'm5.large', subnet: 'subnet-a' }],
  };

  it('fills defaults', () => {
    const scenario = parseScenario(minimal);
    expect(scenario.ec2.throttling).toBe('aws');
    expect(scenario.nodes[0]).toMatchObject({ count: 1, env: {} });
    expect(scenario.pods).toEqual([]);
    expect(scenario.sharedRateLimit).toBe(false);
  });

  it.each([
    [{ ...minimal, extra: 1 }, 'extra: unknown field'],
    [
      { ...minimal, nodes: [{ ...minimal.nodes[0], instanceTyp: 'm5.large' }] },
      'nodes[0].instanceTyp: unknown field',
    ],
    [
      { ...minimal, pods: [{ node: 'node-a', startSecond: 0, count: 1, lifetimeSecond: 5 }] },
      'pods[0].lifetimeSecond: unknown field',
    ],
    [
      { ...minimal, ec2: { ...minimal.ec2, faults: { serverErrorRate: 0, timeouts: 1 } } },
      'ec2.faults.timeouts: unknown field',
    ],
    [
      { ...minimal, events: [{ atSecond: 1, action: 'killAgent', node: 'node-a', downSecond: 3 }] },
      'events[0].downSecond: unknown field',
    ],
  ])('names an unknown field by its path (%#)', (input, expected) => {
    expect(() => parseScenario(input)).toThrow(ScenarioError);
    expect(() => parseScenario(input)).toThrow(expected);
  });

  it('rejects references to nodes and subnets that do not exist', () => {
    expect(() => parseScenario({ ...minimal, nodes: [{ ...minimal.nodes[0], subnet: 'subnet-x' }] })).toThrow(
      'nodes[0].subnet: no subnet subnet-x',
    );
    expect(() => parseScenario({ ...minimal, pods: [{ node: 'node-b', startSecond: 0, count: 1 }] })).toThrow(
      'pods[0].node',
    );
    expect(() =>
      parseScenario({ ...minimal, events: [{ atSecond: 1, action: 'restartAgent', node: 'other' }] }),
    ).toThrow('events[0].node');
    expect(() =>
      parseScenario({ ...minimal, nodes: [{ ...minimal.nodes[0], env: { WARM_ENI_TARGET: 'lots' } }] }),
    ).toThrow(/nodes\[0\]\.env: .*WARM_ENI_TARGET/);
    expect(() =>
      parseScenario({ ...minimal, events: [{ atSecond: 1, action: 'launchRocket', node: 'node-a' }] }),
    ).toThrow('events[0].action');
  });

  it('checks every scenario shipped in scenarios/', () => {
    for (const name of [
      'example.json',
      'burst-m5-4xlarge.json',
      'restart.json',
      'leaks.json',
      'cluster-500.json',
    ]) {
      expect(() => scenarioFile(name), name).not.toThrow();
    }
    expect(scenarioFile('cluster-500.json').nodes[0]?.count).toBe(500);
  });
});

describe('report percentiles', () => {
  it.each([
    [[], { p50: 0, p90: 0, p99: 0, max: 0 }],
    [[5], { p50: 5, p90: 5, p99: 5, max: 5 }],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { p50: 5, p90: 9, p99: 10, max: 10 }],
    [[30, 10, 20], { p50: 20, p90: 30, p99: 30, max: 30 }],
  ])('nearest rank of %j', (samples, expected) => {
    expect(percentiles(samples)).toEqual(expected);
  });
});
