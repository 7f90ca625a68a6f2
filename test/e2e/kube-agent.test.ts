/**
 * The agent process against a real kube-apiserver (issue 7, Kubernetes cases): pods are API
 * objects bound to the agent's node, the agent runs as deploy/'s ServiceAccount with deploy/'s
 * ClusterRole (so these cases also prove the role covers what the agent does), and addresses are
 * observed through the agent's introspection endpoint. No kubelet runs: the test plays it, sending
 * CNI ADD/DEL for a pod's sandbox, or no DEL at all, which is the leak the pod watch exists for.
 *
 * Needs the `kube` peer (test/peers/install.sh kube) and `npm run build` (the agent under test is
 * dist/cli/main.js). See docs/e2e-kubernetes.md.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEAK_SCAN_INTERVAL_MS } from '../../agent/intervals.js';
import { systemClock } from '../../time/clock.js';
import { DEPLOY_DIR, parseYamlFile } from '../deploy/manifests.js';
import { startKubeApiServer, type KubeApiServer } from '../peers/kube.js';
import {
  startAgentProcess,
  startSimulatedNode,
  type AgentProcess,
  type PodView,
  type SimulatedNode,
} from './harness/agent-process.js';
import {
  createBoundPod,
  createNamespace,
  createNode,
  createVirtualMachine,
  deletePodNow,
  deleteVirtualMachine,
  eventually,
  installCrd,
  kubeClients,
  stopVirtualMachine,
  VIRTUAL_MACHINE_CRD,
  type BoundPod,
  type KubeClients,
} from './harness/kube-cluster.js';
import { addPod, delPod, newSandbox, type PodSandbox } from './harness/kube-cni.js';
import { E2E_SUBNET_ID } from './harness/simulated-node.js';
import { POOL_ANNOTATION } from '../../ipam/pod-placement.js';
import { KubeRest, type ManifestObject } from './harness/kube-rest.js';

const NODE_NAME = 'ip-198-19-0-10.ec2.internal';
const NAMESPACE = 'default';
/** Small, so that a release is seen within seconds; whole seconds is what the variable takes. */
const GRACE_SECONDS = 3;
const GRACE_MS = GRACE_SECONDS * 1000;
/**
 * The reaper looks every LEAK_SCAN_INTERVAL_MS: it first sees the owner gone at most one interval
 * after the watch shows the deletion, and releases at the first look a grace period after that.
 */
const REAPER_WORST_CASE_MS = LEAK_SCAN_INTERVAL_MS * (1 + Math.ceil(GRACE_MS / LEAK_SCAN_INTERVAL_MS));
/** Plus slack for a busy 2-core machine. */
const RELEASE_DEADLINE_MS = REAPER_WORST_CASE_MS + 5_000;
/**
 * After kube-apiserver restarts, the watch reconnects with capped exponential back-off (1 s, 2 s,
 * 4 s... while the server was down); the release then takes its usual time.
 */
const RELEASE_AFTER_RESTART_DEADLINE_MS = 45_000;
/** The agent's pod watch shows a new pod within milliseconds; this bounds the wait for it. */
const WATCH_SEES_POD_DEADLINE_MS = 15_000;
const KUBEVIRT_VM_LABEL = 'vm.kubevirt.io/name';

let kube: KubeApiServer | undefined;
let admin: KubeClients;
let node: SimulatedNode | undefined;
let agent: AgentProcess | undefined;
let podCount = 0;

function started(): { kube: KubeApiServer; agent: AgentProcess } {
  if (!kube || !agent) throw new Error('beforeAll did not start the API server and the agent');
  return { kube, agent };
}

/** deploy/rbac.yaml's objects, and the ServiceAccount among them. */
function deployRbac(): { objects: ManifestObject[]; serviceAccount: { namespace: string; name: string } } {
  const objects = parseYamlFile(join(DEPLOY_DIR, 'rbac.yaml')).filter((d): d is ManifestObject => d !== null);
  const sa = objects.find((o) => o.kind === 'ServiceAccount');
  if (!sa?.metadata.namespace) throw new Error('deploy/rbac.yaml has no namespaced ServiceAccount');
  return { objects, serviceAccount: { namespace: sa.metadata.namespace, name: sa.metadata.name } };
}

async function heldBy(sandbox: PodSandbox): Promise<PodView | undefined> {
  return (await started().agent.pods()).find((p) => p.containerId === sandbox.containerId);
}

/** Bounded wait until the agent no longer holds the sandbox's address; resolves when it saw that. */
async function waitReleased(sandbox: PodSandbox, deadlineMs: number): Promise<number> {
  const { agent: a } = started();
  return eventually(
    `the agent releases ${sandbox.pod.namespace}/${sandbox.pod.name}'s address`,
    async () => ((await heldBy(sandbox)) === undefined ? systemClock.now() : undefined),
    deadlineMs,
    async () =>
      `agent pods: ${JSON.stringify(await a.pods().catch(() => []))}\nagent output (tail):\n${a.output().slice(-4000)}`,
  );
}

async function newPod(prefix: string, labels?: Record<string, string>): Promise<BoundPod> {
  podCount += 1;
  return createBoundPod(admin.core, {
    namespace: NAMESPACE,
    name: `${prefix}-${podCount}`,
    nodeName: NODE_NAME,
    ...(labels ? { labels } : {}),
  });
}

/** Creates a pod and runs its sandbox's ADD, as kubelet does once the pod is bound. */
async function runningPod(prefix: string): Promise<{ pod: BoundPod; sandbox: PodSandbox; ip: string }> {
  const pod = await newPod(prefix);
  const sandbox = newSandbox(pod);
  const ip = await addPod(started().agent.socketPath, sandbox);
  return { pod, sandbox, ip };
}

/**
 * ADD for a virt-launcher pod, retried until the agent attributes the address to the VM. The agent
 * learns the pod's VM label from its pod watch, not from CNI (labels are not in CNI_ARGS), so an
 * ADD that overtakes the watch gets an address without an owner; such an attempt is undone with
 * DEL (which frees it, having no owner) and retried, as kubelet retries a failed sandbox.
 */
async function addVmPod(
  pod: BoundPod,
  vmName: string,
): Promise<{ sandbox: PodSandbox; ip: string; attempts: number }> {
  const { agent: a } = started();
  let attempts = 0;
  return eventually(
    `the agent attributes ${pod.namespace}/${pod.name}'s address to VirtualMachine ${pod.namespace}/${vmName}`,
    async () => {
      attempts += 1;
      const sandbox = newSandbox(pod);
      const ip = await addPod(a.socketPath, sandbox);
      const view = await heldBy(sandbox);
      if (view?.owner === `VirtualMachine ${pod.namespace}/${vmName}`) return { sandbox, ip, attempts };
      await delPod(a.socketPath, sandbox);
      return undefined;
    },
    WATCH_SEES_POD_DEADLINE_MS,
    async () => `agent pods: ${JSON.stringify(await a.pods())}`,
  );
}

beforeAll(async () => {
  const rbac = deployRbac();
  kube = await startKubeApiServer({ serviceAccount: rbac.serviceAccount });
  admin = kubeClients(kube.kubeconfigPath);
  const rest = KubeRest.admin(kube);
  // The agent runs as deploy/'s ServiceAccount, bound by deploy/'s ClusterRole, nothing more.
  for (const object of rbac.objects) {
    const answer = await rest.apply(object, { dryRun: false });
    if (answer.status !== 200 && answer.status !== 201) {
      throw new Error(
        `applying ${object.kind} ${object.metadata.name} from deploy/rbac.yaml answered ${answer.status}: ${answer.text}`,
      );
    }
  }
  // Before the agent starts: it asks whether kubevirt.io/v1 exists at start-up (then every 10 min).
  await installCrd(rest, admin, VIRTUAL_MACHINE_CRD);
  await createNode(admin.core, NODE_NAME, 'us-east-1a');
  node = await startSimulatedNode({ instanceType: 'm5.large', sim: { throttling: 'none' } });
  agent = await startAgentProcess({
    node,
    nodeName: NODE_NAME,
    kubeconfigPath: kube.serviceAccount.kubeconfigPath,
    env: {
      ENI_IPAM_POD_GONE_GRACE_SECONDS: String(GRACE_SECONDS),
      WARM_IP_TARGET: '4',
      // A pool on the node's own subnet, for the namespace-placement cases.
      ENI_IPAM_POOLS: JSON.stringify([{ name: 'tenant-a', subnetId: E2E_SUBNET_ID }]),
    },
  });
});

afterAll(async () => {
  await agent?.stop();
  await agent?.removeState();
  await node?.close();
  await kube?.stop();
});

describe('pods as API objects bound to the node', () => {
  it('keeps the address of a pod that exists and releases the one whose pod was deleted without a DEL', async () => {
    const { agent: a } = started();
    const kept = await runningPod('kept');
    const deleted = await runningPod('deleted');
    expect(kept.ip).not.toBe(deleted.ip);
    expect((await heldBy(kept.sandbox))?.uid).toBe(kept.pod.uid);

    const deletedAt = systemClock.now();
    await deletePodNow(admin.core, deleted.pod);
    const releasedAt = await waitReleased(deleted.sandbox, RELEASE_DEADLINE_MS);

    // The reaper waits the grace period from the moment it saw the pod gone, never less.
    expect(releasedAt - deletedAt).toBeGreaterThanOrEqual(GRACE_MS);
    // The pod that exists was present through more than a grace period and a scan: still held.
    expect((await heldBy(kept.sandbox))?.ip).toBe(kept.ip);
    expect(a.output()).toMatch(/releasing an address whose owner is gone/);
  });

  it('releases, after a restart, the address of a pod deleted while the agent was down', async () => {
    const { agent: a } = started();
    const kept = await runningPod('survivor');
    const deleted = await runningPod('deleted-while-down');

    await a.stop();
    await deletePodNow(admin.core, deleted.pod);
    await a.start();

    // The checkpoint brought both assignments back; the pod watch shows one pod gone.
    await waitReleased(deleted.sandbox, RELEASE_DEADLINE_MS);
    expect((await heldBy(kept.sandbox))?.ip).toBe(kept.ip);
  });
});

describe('KubeVirt VirtualMachines (kubevirt.io/v1 CRD)', () => {
  it('keeps a stopped VM its address, gives it back to the next pod of the VM, and frees it when the VM is deleted', async () => {
    const { agent: a } = started();
    const vm = await createVirtualMachine(admin.custom, { namespace: NAMESPACE, name: 'vm-alpine' });
    const launcherLabels = { [KUBEVIRT_VM_LABEL]: vm.name, 'kubevirt.io': 'virt-launcher' };

    const first = await newPod('virt-launcher-vm-alpine', launcherLabels);
    const firstRun = await addVmPod(first, vm.name);

    // Stop (virtctl stop): runStrategy Halted, kubelet tears the sandbox down (DEL), the pod goes.
    await stopVirtualMachine(admin.custom, vm);
    await delPod(a.socketPath, firstRun.sandbox);
    await deletePodNow(admin.core, first);
    // Longer than the reaper takes to release an address whose pod is gone: had the address
    // followed the pod rather than the VM, it would be released by now.
    await systemClock.sleep(REAPER_WORST_CASE_MS + 1_000);
    const kept = await heldBy(firstRun.sandbox);
    expect(kept?.ip).toBe(firstRun.ip);
    expect(kept?.owner).toBe(`VirtualMachine ${NAMESPACE}/${vm.name}`);

    // Start again: a new virt-launcher pod (new uid, new sandbox) gets the same address.
    const second = await newPod('virt-launcher-vm-alpine', launcherLabels);
    const secondRun = await addVmPod(second, vm.name);
    expect(secondRun.ip).toBe(firstRun.ip);
    expect((await heldBy(secondRun.sandbox))?.uid).toBe(second.uid);
    expect(await heldBy(firstRun.sandbox)).toBeUndefined();

    // Stop, then delete the VM: the address is released within the grace period.
    await stopVirtualMachine(admin.custom, vm);
    await delPod(a.socketPath, secondRun.sandbox);
    await deletePodNow(admin.core, second);
    expect((await heldBy(secondRun.sandbox))?.ip).toBe(firstRun.ip);
    await deleteVirtualMachine(admin.custom, vm);
    await waitReleased(secondRun.sandbox, RELEASE_DEADLINE_MS);
  });
});

// Before the restart case: after a restart each watch comes back after its own back-off (up to
// 30 s), longer than a placement check gives the namespace watch to see a new namespace.
describe('namespace defaults for placement (the namespace watch, under deploy/rbac.yaml)', () => {
  /** Runs ADD until `accept` takes the outcome, undoing attempts the watches had not caught up with. */
  async function addUntil<T>(
    what: string,
    pod: BoundPod,
    accept: (outcome: { ip: string; sandbox: PodSandbox } | { error: string }) => T | undefined,
  ): Promise<T> {
    const { agent: a } = started();
    return eventually(
      what,
      async () => {
        const sandbox = newSandbox(pod);
        let outcome: { ip: string; sandbox: PodSandbox } | { error: string };
        try {
          outcome = { ip: await addPod(a.socketPath, sandbox), sandbox };
        } catch (err) {
          outcome = { error: err instanceof Error ? err.message : String(err) };
        }
        const accepted = accept(outcome);
        if (accepted === undefined && 'ip' in outcome) await delPod(a.socketPath, sandbox);
        return accepted;
      },
      WATCH_SEES_POD_DEADLINE_MS,
      () => `agent output (tail):\n${a.output().slice(-3000)}`,
    );
  }

  it("applies the namespace's pool to its pods, and a pod's own pool wins over it", async () => {
    const namespace = 'placement-defaults';
    await createNamespace(admin.core, namespace, { [POOL_ANNOTATION]: 'not-declared' });
    podCount += 1;
    const plain = await createBoundPod(admin.core, {
      namespace,
      name: `plain-${podCount}`,
      nodeName: NODE_NAME,
    });
    // The namespace names a pool the node does not declare: its pods are refused, saying why.
    const refused = await addUntil('the namespace pool reaches placement', plain, (o) =>
      'error' in o && o.error.includes('unknown address pool "not-declared"') ? o.error : undefined,
    );
    expect(refused).toMatch(
      /code 110: pod placement-defaults\/plain-\d+: unknown address pool "not-declared" \(declared: tenant-a\)/,
    );

    // Seed case: the namespace is bound to a pool while the workload names its own: the pod wins.
    podCount += 1;
    const own = await createBoundPod(admin.core, {
      namespace,
      name: `own-${podCount}`,
      nodeName: NODE_NAME,
      annotations: { [POOL_ANNOTATION]: 'tenant-a' },
    });
    const served = await addUntil("the pod's own pool wins", own, (o) => ('ip' in o ? o : undefined));
    expect((await heldBy(served.sandbox))?.ip).toBe(served.ip);
  });
});

describe('kube-apiserver restarts', () => {
  it('the pod and VM watches resume: a pod and a stopped VM deleted after the restart have their addresses released', async () => {
    const { kube: k, agent: a } = started();
    const kept = await runningPod('before-restart-kept');
    const deleted = await runningPod('before-restart-deleted');
    // A stopped VM: its address is held for the VM, not for a pod.
    const vm = await createVirtualMachine(admin.custom, { namespace: NAMESPACE, name: 'vm-restart' });
    const launcher = await newPod('virt-launcher-vm-restart', { [KUBEVIRT_VM_LABEL]: vm.name });
    const vmRun = await addVmPod(launcher, vm.name);
    await stopVirtualMachine(admin.custom, vm);
    await delPod(a.socketPath, vmRun.sandbox);
    await deletePodNow(admin.core, launcher);

    const restartsLogged = (watch: string): number =>
      a.output().split(`${watch} watch stopped; restarting`).length - 1;
    const before = { pods: restartsLogged('pods'), vms: restartsLogged('virtualmachines') };
    await k.restart();
    await deletePodNow(admin.core, deleted.pod);
    await deleteVirtualMachine(admin.custom, vm);

    await waitReleased(deleted.sandbox, RELEASE_AFTER_RESTART_DEADLINE_MS);
    await waitReleased(vmRun.sandbox, RELEASE_AFTER_RESTART_DEADLINE_MS);
    expect((await heldBy(kept.sandbox))?.ip).toBe(kept.ip);
    // The watches really broke (and came back): not watches that never noticed the restart.
    expect(restartsLogged('pods')).toBeGreaterThan(before.pods);
    expect(restartsLogged('virtualmachines')).toBeGreaterThan(before.vms);

    // And a pod created after the restart is served and watched like any other.
    const late = await runningPod('after-restart');
    await deletePodNow(admin.core, late.pod);
    await waitReleased(late.sandbox, RELEASE_DEADLINE_MS);
  });
});
