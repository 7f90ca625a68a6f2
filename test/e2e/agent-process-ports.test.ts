/**
 * The e2e harness's agent process survives a lost port: when another process binds the
 * introspection or the metrics port chosen for the agent before the agent does, the agent exits
 * ("address already in use") and start() runs it again on fresh ports. Suites running at once on
 * one machine would otherwise fail at random.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { holdLoopbackPort, type HeldPort } from '../peers/process.js';
import { AgentProcess, startSimulatedNode, type SimulatedNode } from './harness/agent-process.js';

let node: SimulatedNode | undefined;
const agents: AgentProcess[] = [];
const held: HeldPort[] = [];

beforeAll(async () => {
  node = await startSimulatedNode({ instanceType: 't3.medium', sim: { seed: 31 } });
});

afterEach(async () => {
  for (const agent of agents.splice(0)) {
    await agent.stop();
    await agent.removeState();
  }
  await Promise.all(held.splice(0).map((port) => port.release()));
});

afterAll(async () => {
  await node?.close();
});

/** Binds the port of `url` as another process would, before the agent gets to it. */
async function takePort(url: string): Promise<void> {
  held.push(await holdLoopbackPort(Number(new URL(url).port)));
}

async function createAgent(): Promise<AgentProcess> {
  const agent = await AgentProcess.create({ node: node! });
  agents.push(agent);
  return agent;
}

describe('the agent process of the e2e harness', () => {
  it.each(['introspectionUrl', 'metricsUrl'] as const)(
    'starts on fresh ports when its %s port was taken first',
    { timeout: 120_000 },
    async (which) => {
      const agent = await createAgent();
      const lost = agent[which];
      await takePort(lost);

      await agent.start();

      expect(agent[which]).not.toBe(lost);
      expect((await agent.readiness()).status).toBe(200);
      expect((await fetch(`${agent.metricsUrl}/metrics`)).status).toBe(200);
      // The first run really lost the port: the agent said so and exited.
      expect(agent.output()).toContain(
        `listen EADDRINUSE: address already in use 127.0.0.1:${new URL(lost).port}`,
      );
    },
  );

  it('keeps its ports across a restart', { timeout: 120_000 }, async () => {
    const agent = await createAgent();
    await agent.start();
    const before = [agent.introspectionUrl, agent.metricsUrl];

    await agent.kill();
    await agent.start();

    expect([agent.introspectionUrl, agent.metricsUrl]).toEqual(before);
    expect((await agent.readiness()).status).toBe(200);
  });
});
