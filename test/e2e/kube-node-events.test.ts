/**
 * A node whose pool is short and cannot grow is reported by events on its Node object, against a
 * real kube-apiserver, by the agent process running as deploy/'s ServiceAccount with deploy/'s
 * ClusterRole (so the case also proves the role lets it write them). The node stays Ready all
 * along: a full node is not an unhealthy one (issue 14).
 *
 * The node: a t3.medium limited to its primary ENI (MAX_ENI=1: 5 pod addresses) with
 * WARM_IP_TARGET=2. Four pods leave one free address: short of the target, and at the ENI limit.
 *
 * Needs the `kube` peer (test/peers/install.sh kube) and `npm run build`.
 */
import { join } from 'node:path';
import type { CoreV1Event } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHORTAGE_CHECK_INTERVAL_MS, SHORTAGE_EVENT_HOLD_MS } from '../../agent/intervals.js';
import { DEPLOY_DIR, parseYamlFile } from '../deploy/manifests.js';
import { startKubeApiServer, type KubeApiServer } from '../peers/kube.js';
import {
  startAgentProcess,
  startSimulatedNode,
  type AgentProcess,
  type SimulatedNode,
} from './harness/agent-process.js';
import {
  createBoundPod,
  createNode,
  eventually,
  kubeClients,
  type KubeClients,
} from './harness/kube-cluster.js';
import { addPod, delPod, newSandbox, type PodSandbox } from './harness/kube-cni.js';
import { KubeRest, type ManifestObject } from './harness/kube-rest.js';

const NODE_NAME = 'ip-198-19-0-77.ec2.internal';
/**
 * A shortage is written once it has lasted the hold, seen at the next check; the same for its end.
 * Plus slack for a busy 2-core machine.
 */
const EVENT_DEADLINE_MS = SHORTAGE_EVENT_HOLD_MS + 2 * SHORTAGE_CHECK_INTERVAL_MS + 20_000;

let kube: KubeApiServer | undefined;
let admin: KubeClients;
let node: SimulatedNode | undefined;
let agent: AgentProcess | undefined;

function started(): { agent: AgentProcess } {
  if (!agent) throw new Error('beforeAll did not start the agent');
  return { agent };
}

async function nodeEvents(): Promise<CoreV1Event[]> {
  const list = await admin.core.listNamespacedEvent({
    namespace: 'default',
    fieldSelector: `involvedObject.kind=Node,involvedObject.name=${NODE_NAME}`,
  });
  return list.items;
}

async function eventWithReason(reason: string): Promise<CoreV1Event> {
  const { agent: a } = started();
  return eventually(
    `a ${reason} event on node ${NODE_NAME}`,
    async () => (await nodeEvents()).find((e) => e.reason === reason),
    EVENT_DEADLINE_MS,
    async () =>
      `events: ${JSON.stringify(await nodeEvents().catch(() => []))}\nagent output (tail):\n${a.output().slice(-4000)}`,
  );
}

beforeAll(async () => {
  const objects = parseYamlFile(join(DEPLOY_DIR, 'rbac.yaml')).filter((d): d is ManifestObject => d !== null);
  const sa = objects.find((o) => o.kind === 'ServiceAccount');
  if (!sa?.metadata.namespace) throw new Error('deploy/rbac.yaml has no namespaced ServiceAccount');
  kube = await startKubeApiServer({
    serviceAccount: { namespace: sa.metadata.namespace, name: sa.metadata.name },
  });
  admin = kubeClients(kube.kubeconfigPath);
  const rest = KubeRest.admin(kube);
  for (const object of objects) {
    const answer = await rest.apply(object, { dryRun: false });
    if (answer.status !== 200 && answer.status !== 201)
      throw new Error(
        `applying ${object.kind} ${object.metadata.name} answered ${answer.status}: ${answer.text}`,
      );
  }
  await createNode(admin.core, NODE_NAME, 'us-east-1a');
  node = await startSimulatedNode({ instanceType: 't3.medium', sim: { throttling: 'none' } });
  agent = await startAgentProcess({
    node,
    nodeName: NODE_NAME,
    kubeconfigPath: kube.serviceAccount.kubeconfigPath,
    env: { MAX_ENI: '1', WARM_IP_TARGET: '2', IP_COOLDOWN_PERIOD: '1' },
  });
});

afterAll(async () => {
  await agent?.stop();
  await agent?.removeState();
  await node?.close();
  await kube?.stop();
});

describe('a node that cannot grow, reported through events', () => {
  it(
    'writes one Warning naming the ENI limit while the node stays Ready, and a Normal once it can grow',
    async () => {
      const { agent: a } = started();
      const sandboxes: PodSandbox[] = [];
      for (let i = 0; i < 4; i++) {
        const pod = await createBoundPod(admin.core, {
          namespace: 'default',
          name: `events-${i}`,
          nodeName: NODE_NAME,
        });
        const sandbox = newSandbox(pod);
        await addPod(a.socketPath, sandbox);
        sandboxes.push(sandbox);
      }

      const warning = await eventWithReason('ENILimitReached');
      expect(warning).toMatchObject({
        type: 'Warning',
        involvedObject: { kind: 'Node', name: NODE_NAME },
        source: { component: 'eni-ipam', host: NODE_NAME },
        reportingComponent: 'eni-ipam',
        count: 1,
      });
      expect(warning.message).toMatch(
        /short and cannot grow: the node is at its ENI limit: 1 of 1 ENIs attached/,
      );
      // Full, not unhealthy: /readyz stays 200.
      expect((await a.readiness()).status).toBe(200);

      // Three pods leave: once their addresses cool down (1 s) four are free, above the target.
      for (const sandbox of sandboxes.slice(0, 3)) await delPod(a.socketPath, sandbox);
      const resolved = await eventWithReason('AddressPoolShortageResolved');
      expect(resolved).toMatchObject({ type: 'Normal', involvedObject: { kind: 'Node', name: NODE_NAME } });

      // One shortage, one Warning: no event per check.
      const events = await nodeEvents();
      expect(events.filter((e) => e.type === 'Warning')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'Warning')[0]?.count).toBe(1);
      expect((await a.readiness()).status).toBe(200);
    },
    3 * EVENT_DEADLINE_MS,
  );
});
