/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
   client-node's V1* models are data-only classes and its API is meant to take plain objects. */
/**
 * A real node (issue 18): the kubelet and containerd (test/peers/node.ts) start pods created
 * through the API, containerd's CRI runs the project's conflist (deploy/conflist: ptp + eni-ipam
 * IPAM + portmap) for every sandbox, and the eni-ipam agent serves the addresses. Nothing here
 * plays the kubelet: sandboxes, CNI_ARGS, DEL order and the pod IP the kubelet publishes are the
 * real ones.
 *
 * The node is an instance of the emulated VPC (test/peers/vpc/): containerd, the kubelet and the
 * agent (its datapath on) run in the node's network namespace, the agent reaches EC2 and instance
 * metadata through the VPC, and the kubelet and the agent reach kube-apiserver at its VPC address
 * (the control plane's link), as on EKS. Pod traffic crosses the VPC's source/destination check.
 * Needs root and the `cni`, `vpc`, `kube` and `node` peers (test/peers/install.sh cni vpc kube
 * node) and `npm run build`. See docs/e2e.md.
 */
import { readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpointText } from '../../agent/checkpoint.js';
import { readySandboxes } from '../../agent/runtime/runtime-sandboxes.js';
import { salvageDatastore } from '../../ipam/datastore-snapshot.js';
import type { Assignment } from '../../ipam/datastore-types.js';
import { systemClock } from '../../time/clock.js';
import { DEPLOY_DIR, parseYamlFile } from '../deploy/manifests.js';
import { startKubeApiServer, type KubeApiServer } from '../peers/kube.js';
import { startKubeNode, WORKLOAD_IMAGE, WORKLOAD_PORT, type KubeNode } from '../peers/node.js';
import { peerPaths, requireOnPath } from '../peers/paths.js';
import { EmulatedVpc, VPC_AVAILABILITY_ZONE, type VpcNode } from '../peers/vpc/emulated-vpc.js';
import type { PodView } from './harness/agent-process.js';
import { createCniBinDir, type CniBinDir } from './harness/cni-bin.js';
import { BALANCED, settledAccounting, type AccountingReport } from './harness/ec2-truth.js';
import { eventually, kubeClients, statusOf, type KubeClients } from './harness/kube-cluster.js';
import { KubeRest, type ManifestObject } from './harness/kube-rest.js';
import { NodeAgent } from './harness/vpc-node.js';

const execFileAsync = promisify(execFile);

const NAMESPACE = 'default';
/** Pods of a case carry this label with the case's name, so each case lists its own. */
const CASE_LABEL = 'eni-ipam-e2e/case';
/** 30 sandboxes, each a CNI ADD through a node process, on a shared 2-core machine. */
const PODS_RUNNING_TIMEOUT_MS = 240_000;
/** Graceful delete: SIGTERM, 1 s grace, SIGKILL, sandbox stop with CNI DEL, status to the API. */
const PODS_GONE_TIMEOUT_MS = 180_000;

const WARM_IP_TARGET = 2;
const BURST_PODS = 60;

let vpc: EmulatedVpc | undefined;
/** The instance the kubelet runs on. */
let instance: VpcNode | undefined;
/** Another instance of the VPC, with no pods: a host that requests the pods across the VPC. */
let neighbour: VpcNode | undefined;
/** The node's name as EKS gives it: the private DNS name of its primary address. */
let nodeName = '';
let kube: KubeApiServer | undefined;
let admin: KubeClients;
let agent: NodeAgent | undefined;
let bin: CniBinDir | undefined;
let node: KubeNode | undefined;

function started(): {
  vpc: EmulatedVpc;
  neighbour: VpcNode;
  agent: NodeAgent;
  node: KubeNode;
  accounting: () => Promise<AccountingReport>;
} {
  if (!vpc || !instance || !neighbour || !kube || !agent || !node)
    throw new Error('beforeAll did not start the node and its peers');
  const [v, i, a] = [vpc, instance, agent];
  return {
    vpc: v,
    neighbour,
    agent: a,
    node,
    // EC2's truth for the instance against the agent's books.
    accounting: () => settledAccounting({ cloud: v.cloud, instance: i.instance }, a),
  };
}

/** deploy/rbac.yaml's objects, and the ServiceAccount among them (as kube-agent.test.ts). */
function deployRbac(): { objects: ManifestObject[]; serviceAccount: { namespace: string; name: string } } {
  const objects = parseYamlFile(join(DEPLOY_DIR, 'rbac.yaml')).filter((d): d is ManifestObject => d !== null);
  const sa = objects.find((o) => o.kind === 'ServiceAccount');
  if (!sa?.metadata.namespace) throw new Error('deploy/rbac.yaml has no namespaced ServiceAccount');
  return { objects, serviceAccount: { namespace: sa.metadata.namespace, name: sa.metadata.name } };
}

/** deploy/conflist/10-eni-ipam.conflist, its IPAM pointed at this agent's socket and spool. */
async function projectConflist(a: NodeAgent): Promise<Record<string, unknown>> {
  const conflist = JSON.parse(
    await readFile(join(DEPLOY_DIR, 'conflist', '10-eni-ipam.conflist'), 'utf8'),
  ) as { plugins: { type: string; ipam?: Record<string, unknown> }[]; [key: string]: unknown };
  const ipam = conflist.plugins.find((p) => p.ipam?.['type'] === 'eni-ipam')?.ipam;
  if (!ipam) throw new Error('deploy/conflist/10-eni-ipam.conflist has no eni-ipam IPAM block');
  ipam['socket'] = a.socketPath;
  ipam['spoolPath'] = a.spoolPath;
  return conflist;
}

function describeFailure(): string {
  const out = node?.output();
  return [
    `agent output (tail):\n${agent?.output().slice(-3000) ?? ''}`,
    `kubelet output (tail):\n${out?.kubelet.slice(-5000) ?? ''}`,
    `containerd output (tail):\n${out?.containerd.slice(-3000) ?? ''}`,
  ].join('\n');
}

async function createPods(
  caseName: string,
  count: number,
): Promise<{ names: string[]; createdAt: Map<string, number> }> {
  const names = Array.from({ length: count }, (_, i) => `${caseName}-${i}`);
  const createdAt = new Map<string, number>();
  await Promise.all(
    names.map(async (name) => {
      createdAt.set(name, systemClock.now());
      await admin.core.createNamespacedPod({
        namespace: NAMESPACE,
        body: {
          metadata: { name, labels: { [CASE_LABEL]: caseName } },
          spec: {
            nodeName,
            terminationGracePeriodSeconds: 1,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            containers: [{ name: 'web', image: WORKLOAD_IMAGE, imagePullPolicy: 'Never' }],
          },
        },
      });
    }),
  );
  return { names, createdAt };
}

async function podsOf(caseName: string): Promise<V1Pod[]> {
  return (
    await admin.core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `${CASE_LABEL}=${caseName}` })
  ).items;
}

function isRunning(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running' && (pod.status.podIPs?.length ?? 0) > 0;
}

/** Waits until every pod of the case is Running with an IP; when each was first seen so. */
async function waitRunning(
  caseName: string,
  count: number,
): Promise<{ pods: V1Pod[]; runningAt: Map<string, number> }> {
  const runningAt = new Map<string, number>();
  const pods = await eventually(
    `${count} pods of case ${caseName} Running with an IP`,
    async () => {
      const list = await podsOf(caseName);
      const now = systemClock.now();
      for (const pod of list) {
        const name = pod.metadata?.name;
        if (name !== undefined && isRunning(pod) && !runningAt.has(name)) runningAt.set(name, now);
      }
      return list.length === count && list.every(isRunning) ? list : undefined;
    },
    PODS_RUNNING_TIMEOUT_MS,
    async () => {
      const list = await podsOf(caseName).catch(() => []);
      const stuck = list
        .filter((p) => !isRunning(p))
        .map(
          (p) =>
            `${p.metadata?.name ?? '?'}: ${p.status?.phase ?? '?'} ${JSON.stringify(p.status?.containerStatuses?.[0]?.state ?? {})}`,
        );
      return `not running: ${stuck.slice(0, 10).join('\n')}\n${await podEvents(caseName)}\n${describeFailure()}`;
    },
  );
  return { pods, runningAt };
}

/** Warning events of the case's pods (FailedCreatePodSandBox carries the CNI error). */
async function podEvents(caseName: string): Promise<string> {
  const events = (await admin.core.listNamespacedEvent({ namespace: NAMESPACE }).catch(() => ({ items: [] })))
    .items;
  return events
    .filter((e) => e.type === 'Warning' && (e.involvedObject.name ?? '').startsWith(`${caseName}-`))
    .map((e) => `${e.involvedObject.name ?? '?'} ${e.reason ?? '?'}: ${e.message ?? ''}`)
    .join('\n');
}

async function deleteCasePods(caseName: string): Promise<void> {
  await admin.core.deleteCollectionNamespacedPod({
    namespace: NAMESPACE,
    labelSelector: `${CASE_LABEL}=${caseName}`,
  });
  await eventually(
    `every pod of case ${caseName} is gone from the API server (the kubelet confirmed the teardown)`,
    async () => ((await podsOf(caseName)).length === 0 ? true : undefined),
    PODS_GONE_TIMEOUT_MS,
    async () =>
      `${(await podsOf(caseName).catch(() => [])).map((p) => p.metadata?.name).join(', ')}\n${describeFailure()}`,
  );
}

function agentPodsOf(pods: readonly PodView[], caseName: string): PodView[] {
  return pods.filter((p) => p.namespace === NAMESPACE && p.name.startsWith(`${caseName}-`));
}

/**
 * The assignments the checkpoint holds, read as the agent reads them at start-up: the whole state,
 * then the change records appended after it. A released address must not be among them.
 */
async function checkpointAssignments(a: NodeAgent): Promise<Assignment[]> {
  const read = readCheckpointText(await readFile(a.checkpointPath, 'utf8'));
  if (read.kind !== 'loaded') throw new Error(`the agent's checkpoint is unreadable: ${read.reason}`);
  const { datastore, dropped } = salvageDatastore(
    (read.data as { datastore?: unknown }).datastore,
    read.changes,
  );
  expect(dropped).toEqual([]);
  return datastore.assignments();
}

/** curl and its arguments for GET http://TARGET:8080/cgi-bin/name: the workload answers its pod's name. */
function workloadNameRequest(target: string): string[] {
  return [
    requireOnPath('node', 'curl'),
    '--silent',
    '--show-error',
    '--max-time',
    '5',
    `http://${target}:${WORKLOAD_PORT}/cgi-bin/name`,
  ];
}

/** The workload's name request from inside the pod whose main container is `containerId`. */
async function fetchFromPod(n: KubeNode, containerId: string, target: string): Promise<string> {
  const pid = await n.taskPid(containerId);
  const nsenter = requireOnPath('node', 'nsenter');
  const { stdout } = await execFileAsync(nsenter, [
    `--net=/proc/${pid}/ns/net`,
    '--',
    ...workloadNameRequest(target),
  ]);
  return stdout.trim();
}

/** The same request from a host of the VPC (a namespace of the emulated VPC) to a pod's address. */
async function fetchFromVpcHost(netns: string, target: string): Promise<string> {
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', netns, ...workloadNameRequest(target)]);
  return stdout.trim();
}

function mainContainerId(pod: V1Pod): string {
  const id = pod.status?.containerStatuses?.[0]?.containerID ?? '';
  const match = /^containerd:\/\/([0-9a-f]{64})$/.exec(id);
  if (!match?.[1]) throw new Error(`pod ${pod.metadata?.name ?? '?'} has no containerd container id (${id})`);
  return match[1];
}

function percentile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** Sandbox failures the kubelet reported for the case's pods (the CNI error is in the message). */
async function sandboxFailures(caseName: string): Promise<string[]> {
  const events = (await admin.core.listNamespacedEvent({ namespace: NAMESPACE })).items;
  return events
    .filter(
      (e) =>
        (e.involvedObject.name ?? '').startsWith(`${caseName}-`) && e.reason === 'FailedCreatePodSandBox',
    )
    .map((e) => `${e.involvedObject.name ?? '?'}: ${e.message ?? ''}`);
}

/** The agent's assignments for the case match the Running pods one to one (name, uid, IP). */
async function agentMatchesPods(
  a: NodeAgent,
  caseName: string,
  pods: readonly V1Pod[],
): Promise<string | undefined> {
  const assigned = agentPodsOf(await a.pods(), caseName);
  if (assigned.length !== pods.length)
    return `agent holds ${assigned.length} addresses for ${pods.length} pods`;
  const byName = new Map(assigned.map((p) => [p.name, p]));
  for (const pod of pods) {
    const view = byName.get(pod.metadata?.name ?? '');
    if (!view || view.uid !== pod.metadata?.uid)
      return `agent has no assignment for ${pod.metadata?.name ?? '?'}`;
    const published = (pod.status?.podIPs ?? []).map((ip) => ip.ip);
    if (published.length !== 1 || published[0] !== view.ip)
      return `${pod.metadata?.name ?? '?'}: kubelet published ${published.join(',')}, agent assigned ${view.ip}`;
  }
  return undefined;
}

/** ClusterRole system:node (bootstrapped by kube-apiserver) for group system:nodes. */
const NODES_BINDING: ManifestObject = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRoleBinding',
  metadata: { name: 'eni-ipam-e2e-system-nodes' },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node' },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:nodes' }],
};

function kubeletUser(k: KubeApiServer): { token: string } {
  const user = k.users.find((u) => u.username === `system:node:${nodeName}`);
  if (!user) throw new Error(`kube-apiserver was started without the user system:node:${nodeName}`);
  return user;
}

beforeAll(async () => {
  vpc = await EmulatedVpc.start({ sim: { throttling: 'none' } });
  // m5.4xlarge: 8 ENIs x 30 addresses, the smallest type whose primary ENI and two more hold 60
  // pods. WARM_IP_TARGET keeps the pool to the primary ENI until pods arrive, so the burst needs
  // two new ENIs (WARM_ENI_TARGET would have attached one in advance).
  instance = await vpc.addNode('m5.4xlarge');
  neighbour = await vpc.addNode('t3.medium');
  nodeName = `ip-${instance.primaryIp.replaceAll('.', '-')}.ec2.internal`;
  // kube-apiserver listens on a VPC address: the kubelet and the agent reach it from the node
  // through the VPC router, the test process on the machine's end of the control plane's link.
  const controlPlane = await vpc.connectControlPlane();
  const rbac = deployRbac();
  kube = await startKubeApiServer({
    serviceAccount: rbac.serviceAccount,
    bindAddress: controlPlane.address,
    users: [{ username: `system:node:${nodeName}`, groups: ['system:nodes'] }],
  });
  admin = kubeClients(kube.kubeconfigPath);
  const rest = KubeRest.admin(kube);
  for (const object of rbac.objects) {
    const answer = await rest.apply(object, { dryRun: false });
    if (answer.status !== 200 && answer.status !== 201) {
      throw new Error(
        `applying ${object.kind} ${object.metadata.name} from deploy/rbac.yaml answered ${answer.status}: ${answer.text}`,
      );
    }
  }
  // The kubelet is the node's user with the system:node role, as on a cluster that binds it by RBAC.
  const nodeBinding = await rest.apply(NODES_BINDING, { dryRun: false });
  if (nodeBinding.status !== 200 && nodeBinding.status !== 201) {
    throw new Error(`binding ClusterRole system:node answered ${nodeBinding.status}: ${nodeBinding.text}`);
  }
  // The agent in the node's namespace with its datapath (NodeAgent): ENI links, routes, rules.
  agent = await NodeAgent.start(
    instance,
    { ENI_IPAM_POD_GONE_GRACE_SECONDS: '3', WARM_IP_TARGET: String(WARM_IP_TARGET) },
    { kubeconfigPath: kube.serviceAccount.kubeconfigPath, nodeName },
  );
  bin = await createCniBinDir('debian');
  // The conflist's second plugin, and the loopback plugin containerd runs for every sandbox's lo.
  await symlink(join(peerPaths.debianCniDir, 'portmap'), join(bin.dir, 'portmap'));
  await symlink(join(peerPaths.debianCniDir, 'loopback'), join(bin.dir, 'loopback'));
  node = await startKubeNode({
    network: {
      netnsName: instance.netns,
      netnsPath: `/var/run/netns/${instance.netns}`,
      nodeIp: instance.primaryIp,
    },
    nodeName,
    apiServer: { url: kube.url, caCertificate: kube.caCertificate, token: kubeletUser(kube).token },
    conflist: await projectConflist(agent),
    cniBinDir: bin.dir,
    labels: { 'topology.kubernetes.io/zone': VPC_AVAILABILITY_ZONE },
  });
}, 300_000);

afterEach(async () => {
  // EC2's source/destination check never had to drop a packet of the node's.
  const v = vpc;
  if (!v) throw new Error('beforeAll did not start the emulated VPC');
  expect(await v.sourceDestCheckDrops()).toBe(0);
});

afterAll(async () => {
  // Pods first, so the kubelet's teardown (CNI DEL) runs while the agent still answers.
  if (node && kube) {
    await admin.core.deleteCollectionNamespacedPod({ namespace: NAMESPACE }).catch(() => undefined);
  }
  await node?.stop();
  await agent?.remove();
  await bin?.remove();
  await kube?.stop();
  await vpc?.close();
}, 120_000);

describe('pods started by the kubelet through containerd and eni-ipam', () => {
  it(`a burst of ${BURST_PODS} pods needing new ENIs: all Running, no sandbox failure, creation-to-Running reported`, async () => {
    const { agent: a, accounting } = started();
    const caseName = 'burst';
    const enisBefore = (await a.enis()).length;
    const { names, createdAt } = await createPods(caseName, BURST_PODS);
    const { pods, runningAt } = await waitRunning(caseName, BURST_PODS);

    const sinceCreation = (at: ReadonlyMap<string, number>): number[] =>
      names
        .map((name) => (at.get(name) ?? Number.NaN) - (createdAt.get(name) ?? Number.NaN))
        .sort((x, y) => x - y);
    const latencies = sinceCreation(runningAt);
    // When the agent handed each pod its address (its own clock, the same machine's): how much of
    // the wait was the address, and how much the rest of the sandbox and container start.
    const assignedAt = new Map(
      agentPodsOf(await a.pods(), caseName).map((p) => [p.name, p.assignedAt ?? Number.NaN] as const),
    );
    const toAddress = sinceCreation(assignedAt);
    // The kubelet's own clock: its Ready transition against the creation timestamp (both whole
    // seconds). Compared with the API view above, it shows how late the status reaches the API.
    const kubeletReady = pods
      .map((p) => {
        const ready = p.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
        const created = p.metadata?.creationTimestamp;
        return ready && created ? new Date(ready).getTime() - new Date(created).getTime() : Number.NaN;
      })
      .sort((x, y) => x - y);
    const enisAfter = (await a.enis()).length;
    const summary = (values: readonly number[]): string =>
      `p50 ${percentile(values, 50)} ms, p99 ${percentile(values, 99)} ms, max ${percentile(values, 100)} ms`;
    // The figures the issue asks for (Running observed by polling the API every 100 ms).
    console.log(
      `kubelet burst: ${BURST_PODS} pods; creation to Running ${summary(latencies)}; creation to address assigned ${summary(toAddress)}; creation to Ready by the kubelet's timestamps ${summary(kubeletReady)}; ENIs ${enisBefore} -> ${enisAfter}`,
    );
    expect(latencies.every((l) => Number.isFinite(l))).toBe(true);
    // The pool started on the primary ENI alone and the burst could not fit on it. How many ENIs
    // the agent attaches for it is its own choice (reported above), within the type's limit.
    expect(enisBefore).toBe(1);
    expect(enisAfter - enisBefore).toBeGreaterThanOrEqual(2);
    expect(await sandboxFailures(caseName)).toEqual([]);
    expect(await agentMatchesPods(a, caseName, pods)).toBeUndefined();
    expect(await accounting()).toEqual(BALANCED);

    await deleteCasePods(caseName);
    await eventually(
      'the agent holds no address of the burst',
      async () => (agentPodsOf(await a.pods(), caseName).length === 0 ? true : undefined),
      30_000,
      describeFailure,
    );
    expect(await accounting()).toEqual(BALANCED);
  }, 600_000);

  it("30 pods run with eni-ipam addresses, the kubelet publishes the agent's assignments, and every pod reaches another over TCP", async () => {
    const { agent: a, accounting, node: n, neighbour, vpc: v } = started();
    const caseName = 'thirty';
    await createPods(caseName, 30);
    const { pods } = await waitRunning(caseName, 30);

    const assigned = agentPodsOf(await a.pods(), caseName);
    expect(assigned).toHaveLength(30);
    const byName = new Map(assigned.map((p) => [p.name, p]));
    for (const pod of pods) {
      const view = byName.get(pod.metadata?.name ?? '');
      // The kubelet's status.podIPs is exactly what the agent assigned to that pod (same uid).
      expect(pod.status?.podIPs).toEqual([{ ip: view?.ip }]);
      expect(view?.uid).toBe(pod.metadata?.uid);
    }
    expect(new Set(assigned.map((p) => p.ip)).size).toBe(30);
    // The container runtime tells the same, over its CRI socket, without the API server: what
    // ownership recovery reads when the checkpoint is lost (agent/runtime/runtime-sandboxes.ts).
    const sandboxes = await readySandboxes({
      socketPath: n.containerdSocket,
      clock: systemClock,
      timeoutMs: 5_000,
    });
    for (const pod of pods) {
      const sandbox = sandboxes.filter((s) => s.uid === pod.metadata?.uid);
      expect(sandbox, `the READY sandbox of ${pod.metadata?.name}`).toEqual([
        {
          uid: pod.metadata?.uid,
          namespace: pod.metadata?.namespace,
          name: pod.metadata?.name,
          ips: [byName.get(pod.metadata?.name ?? '')?.ip],
        },
      ]);
    }
    const primary = (await a.enis()).find((e) => e.primary)?.eniId;
    const onSecondary = assigned.filter((p) => p.eniId !== primary);
    expect(onSecondary.length).toBeGreaterThan(0);

    // Each pod, from its own network namespace, fetches the next pod's name over TCP. The ring is
    // ordered by ENI, so at each ENI's end a pod of that ENI fetches from a pod of another one.
    const eniOf = (pod: V1Pod): string => byName.get(pod.metadata?.name ?? '')?.eniId ?? '';
    const ring = [...pods].sort(
      (x, y) =>
        eniOf(x).localeCompare(eniOf(y)) || (x.metadata?.name ?? '').localeCompare(y.metadata?.name ?? ''),
    );
    let acrossEnisFromSecondary = 0;
    for (const [i, from] of ring.entries()) {
      const to = ring[(i + 1) % ring.length];
      if (!to?.status?.podIP) throw new Error('a Running pod without podIP');
      expect(await fetchFromPod(n, mainContainerId(from), to.status.podIP)).toBe(to.metadata?.name);
      if (eniOf(from) !== primary && eniOf(from) !== eniOf(to)) acrossEnisFromSecondary++;
    }
    expect(acrossEnisFromSecondary).toBeGreaterThan(0);

    // Every pod answers another host of the VPC: the request reaches the node by the ENI that
    // holds the pod's address in EC2, and the answer leaves by it (the VPC receives it on that
    // ENI's link), or the VPC's source/destination check drops it (afterEach).
    for (const pod of pods) {
      if (!pod.status?.podIP) throw new Error('a Running pod without podIP');
      const eniId = eniOf(pod);
      const before = await v.packetsFromEni(eniId);
      expect(await fetchFromVpcHost(neighbour.netns, pod.status.podIP)).toBe(pod.metadata?.name);
      expect(await v.packetsFromEni(eniId)).toBeGreaterThan(before);
    }

    expect(await accounting()).toEqual(BALANCED);

    // Deleting them frees every address: agent, checkpoint and EC2 agree.
    await deleteCasePods(caseName);
    await eventually(
      'the agent holds no address of the deleted pods',
      async () => (agentPodsOf(await a.pods(), caseName).length === 0 ? true : undefined),
      30_000,
      describeFailure,
    );
    const durable = await eventually(
      'the checkpoint no longer lists the deleted pods',
      async () => {
        const held = await checkpointAssignments(a);
        return assigned.every((p) => !held.some((h) => h.key.containerId === p.containerId))
          ? held
          : undefined;
      },
      10_000,
    );
    expect(assigned.filter((p) => durable.some((h) => h.pod.uid === p.uid)).map((p) => p.name)).toEqual([]);
    expect(await accounting()).toEqual(BALANCED);
  }, 600_000);

  it('frees, after the agent restarts, the address of a pod deleted while it was down', async () => {
    const { agent: a, accounting } = started();
    const caseName = 'agent-down';
    await createPods(caseName, 2);
    const { pods } = await waitRunning(caseName, 2);
    const [kept, deleted] = [...pods].sort((x, y) =>
      (x.metadata?.name ?? '').localeCompare(y.metadata?.name ?? ''),
    );
    if (!kept?.metadata?.name || !deleted?.metadata?.name) throw new Error('two pods expected');
    const deletedName = deleted.metadata.name;
    const keptView = agentPodsOf(await a.pods(), caseName).find((p) => p.name === kept.metadata?.name);

    await a.stop();
    await admin.core.deleteNamespacedPod({ namespace: NAMESPACE, name: deletedName });
    await eventually(
      `pod ${deletedName} is gone (the kubelet tore it down while the agent was down)`,
      async () => {
        try {
          await admin.core.readNamespacedPod({ namespace: NAMESPACE, name: deletedName });
          return undefined;
        } catch (err) {
          if (statusOf(err) === 404) return true;
          throw err;
        }
      },
      PODS_GONE_TIMEOUT_MS,
      describeFailure,
    );
    await a.start();

    await eventually(
      `the restarted agent frees ${deletedName}'s address`,
      async () =>
        agentPodsOf(await a.pods(), caseName).some((p) => p.name === deletedName) ? undefined : true,
      60_000,
      describeFailure,
    );
    const after = agentPodsOf(await a.pods(), caseName);
    expect(after.map((p) => [p.name, p.ip])).toEqual([[kept.metadata.name, keptView?.ip]]);
    expect(await accounting()).toEqual(BALANCED);
    await deleteCasePods(caseName);
  }, 600_000);

  it('containerd restarted and the agent killed while pods start: every pod Running, no address leaked or handed out twice', async () => {
    const { agent: a, accounting, node: n } = started();
    const caseName = 'chaos';
    const count = 24;
    const assignedCount = async (): Promise<number> => agentPodsOf(await a.pods(), caseName).length;
    await createPods(caseName, count);
    // containerd dies (SIGKILL) once the first sandboxes have addresses, the agent a little later.
    await eventually(
      'the first sandboxes have addresses',
      async () => ((await assignedCount()) >= 3 ? true : undefined),
      120_000,
      describeFailure,
    );
    const runningWhenContainerdDied = (await podsOf(caseName)).filter(isRunning).length;
    await n.restartContainerd();
    await eventually(
      'more sandboxes have addresses',
      async () => ((await assignedCount()) >= 10 ? true : undefined),
      120_000,
      describeFailure,
    );
    const runningWhenAgentDied = (await podsOf(caseName)).filter(isRunning).length;
    await a.kill();
    await a.start();
    // Both faults hit the burst in the middle, not after it.
    expect(runningWhenContainerdDied).toBeLessThan(count);
    expect(runningWhenAgentDied).toBeLessThan(count);

    const { pods } = await waitRunning(caseName, count);
    // Sandboxes that died half set up are torn down by the kubelet (CNI DEL) or reaped by the
    // agent; afterwards the agent holds exactly one address per pod, the one the kubelet publishes.
    await eventually(
      "the agent holds exactly the Running pods' addresses",
      async () => ((await agentMatchesPods(a, caseName, pods)) === undefined ? true : undefined),
      90_000,
      async () =>
        `${(await agentMatchesPods(a, caseName, pods)) ?? ''}\n${JSON.stringify(agentPodsOf(await a.pods(), caseName))}\n${describeFailure()}`,
    );
    expect(new Set(pods.map((p) => p.status?.podIP)).size).toBe(count);
    expect(await accounting()).toEqual(BALANCED);

    await deleteCasePods(caseName);
    await eventually(
      'the agent holds no address of the deleted pods',
      async () => ((await assignedCount()) === 0 ? true : undefined),
      30_000,
      describeFailure,
    );
    expect(await accounting()).toEqual(BALANCED);
  }, 600_000);
});
