/**
 * The agent process loses its checkpoint while the API server is unreachable (its kubeconfig
 * points at a closed port): the container runtime's pod sandboxes, served over a CRI socket by a
 * real gRPC server, give the running pods their addresses back; an address no sandbox reports
 * stays quarantined, and new pods get new addresses. Needs `npm run build` (dist/cli/main.js).
 */
import type * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeRuntime, serveCri, type FakeSandbox } from '../agent/fakes/fake-cri-runtime.js';
import {
  startAgentProcess,
  startSimulatedNode,
  type AgentProcess,
  type SimulatedNode,
} from './harness/agent-process.js';
import { eventually } from './harness/kube-cluster.js';
import { addPod, newSandbox } from './harness/kube-cni.js';

const RECOVERY_DEADLINE_MS = 20_000;

describe('checkpoint lost and API server unreachable', () => {
  let node: SimulatedNode;
  let agent: AgentProcess;
  let dir: string;
  let cri: grpc.Server;
  let sandboxes: FakeSandbox[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eni-ipam-h12-cri-e2e-'));
    const socket = join(dir, 'containerd.sock');
    cri = await serveCri(
      socket,
      fakeRuntime(() => sandboxes),
    );
    node = await startSimulatedNode({ instanceType: 'm5.large', sim: { seed: 12 } });
    agent = await startAgentProcess({ node, env: { WARM_IP_TARGET: '2', ENI_IPAM_CRI_SOCKET: socket } });
  });
  afterAll(async () => {
    await agent?.stop();
    await node?.close();
    await agent?.removeState();
    cri?.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it("the runtime's READY sandboxes give the running pods their addresses back; the rest stays quarantined", async () => {
    const a = newSandbox({ namespace: 'shop', name: 'web-a', uid: 'uid-web-a' });
    const b = newSandbox({ namespace: 'shop', name: 'web-b', uid: 'uid-web-b' });
    const ipA = await addPod(agent.socketPath, a);
    const ipB = await addPod(agent.socketPath, b);
    await agent.stop();
    await rm(agent.checkpointPath, { force: true });
    // Pod a's sandbox is READY with its address; pod b's is being set up again and reports none.
    sandboxes = [
      {
        id: a.containerId,
        metadata: { name: 'web-a', uid: 'uid-web-a', namespace: 'shop' },
        state: 'SANDBOX_READY',
        network: { ip: ipA },
      },
      {
        id: b.containerId,
        metadata: { name: 'web-b', uid: 'uid-web-b', namespace: 'shop' },
        state: 'SANDBOX_READY',
      },
    ];
    await agent.start();

    const adopted = await eventually(
      `${ipA} adopted by its pod`,
      async () => (await agent.pods()).find((p) => p.ip === ipA && p.uid === 'uid-web-a'),
      RECOVERY_DEADLINE_MS,
      () => agent.output(),
    );
    expect(adopted).toMatchObject({ namespace: 'shop', name: 'web-a' });
    const holderOfB = (await agent.pods()).find((p) => p.ip === ipB);
    expect(holderOfB?.containerId, `${ipB} stays quarantined`).toMatch(/^eni-ipam:quarantine:/);
    expect(agent.output()).toMatch(/ownership of quarantined addresses rebuilt/);

    const next = await Promise.all(
      ['c', 'd', 'e'].map((id) =>
        addPod(agent.socketPath, newSandbox({ namespace: 'shop', name: `new-${id}`, uid: `uid-new-${id}` })),
      ),
    );
    expect(next.filter((ip) => ip === ipA || ip === ipB)).toEqual([]);
    expect(new Set(next).size).toBe(3);
  });
});
