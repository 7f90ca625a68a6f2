/**
 * The probes tell the truth about the real agent process: with its state directory removed it
 * cannot serve CNI calls (the socket is gone), so /healthz and /readyz fail; once the directory is
 * back the agent re-creates its socket by itself and serves ADDs again.
 */
import { mkdir } from 'node:fs/promises';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../time/clock.js';
import {
  startAgentProcess,
  startSimulatedNode,
  type AgentProcess,
  type SimulatedNode,
} from './harness/agent-process.js';
import { createCniBinDir, type CniBinDir } from './harness/cni-bin.js';
import { ipamAdd, podAttachment } from './harness/cni-runtime.js';

/** The agent checks its files every 5 s; allow a few rounds. */
const PROBE_WAIT_MS = 20_000;

async function probe(agent: AgentProcess, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${agent.introspectionUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text() };
}

async function until(what: string, agent: AgentProcess, check: () => Promise<boolean>): Promise<void> {
  const deadline = systemClock.now() + PROBE_WAIT_MS;
  while (!(await check())) {
    if (systemClock.now() > deadline)
      throw new Error(`${what} did not happen\n${agent.output().slice(-3000)}`);
    await systemClock.sleep(250);
  }
}

describe('probes of the real agent', () => {
  let node: SimulatedNode;
  let agent: AgentProcess;
  let bin: CniBinDir;

  beforeAll(async () => {
    bin = await createCniBinDir('debian');
    node = await startSimulatedNode({ instanceType: 't3.medium', sim: { seed: 14 } });
    agent = await startAgentProcess({ node });
  });
  afterAll(async () => {
    await agent?.stop();
    await node?.close();
    await agent?.removeState();
    await bin?.remove();
  });

  it(
    'fails liveness and readiness while the state directory is gone, and recovers when it is back',
    { timeout: 90_000 },
    async () => {
      expect((await probe(agent, '/healthz')).status).toBe(200);
      // The running agent may write into the directory while it is being removed (ENOTEMPTY at
      // its rmdir): retry, as an operator's second `rm -rf` would.
      await rm(agent.stateDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
      await until('/healthz failing', agent, async () => (await probe(agent, '/healthz')).status === 503);
      expect(JSON.parse((await probe(agent, '/healthz')).body)).toEqual({
        status: 'failing',
        reason: `state directory ${agent.stateDir} is gone: the checkpoint cannot be written`,
      });
      expect((await probe(agent, '/readyz')).status).toBe(503);

      await mkdir(agent.stateDir, { recursive: true });
      await until('/healthz passing', agent, async () => (await probe(agent, '/healthz')).status === 200);
      expect((await probe(agent, '/readyz')).status).toBe(200);
      const added = await ipamAdd(bin, agent, podAttachment('after-dir-back'));
      expect(added.exitCode, added.stderr).toBe(0);
    },
  );
});
