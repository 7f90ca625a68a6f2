import { describe, expect, it } from 'vitest';
import { KUBEVIRT_VM_LABEL } from '../../agent/assemble.js';
import type { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import { assembledNode } from './fakes/assembled-node.js';
import { expectAgentMatchesEc2, okAddresses, settleAll } from './fakes/agent-invariants.js';
import { FakeNodePods, FakeVirtualMachines } from './fakes/fake-node-pods.js';

const GRACE_S = 60;
const COOLDOWN_S = 30;
/** How often the reaper looks (agent/intervals.ts LEAK_SCAN_INTERVAL_MS): the slack beyond the grace. */
const SCAN_MS = 5_000;

/** A node built as production builds it (agent/assemble.ts), on fake EC2, pods and VMs. */
function node(): {
  h: AgentHarness;
  pods: FakeNodePods;
  vms: FakeVirtualMachines;
  metrics: () => AgentMetrics;
} {
  const pods = new FakeNodePods();
  const vms = new FakeVirtualMachines();
  const { h, metrics } = assembledNode(
    { ENI_IPAM_POD_GONE_GRACE_SECONDS: String(GRACE_S), IP_COOLDOWN_PERIOD: String(COOLDOWN_S) },
    { pods, virtualMachines: vms },
  );
  return { h, pods, vms, metrics };
}

async function counter(metrics: AgentMetrics, name: string, cause: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  return values.filter((v) => v.labels.cause === cause).reduce((sum, v) => sum + v.value, 0);
}

/** Plays the container runtime: the pod appears in the API, then its sandbox's CNI ADD comes. */
async function runPod(
  h: AgentHarness,
  pods: FakeNodePods,
  id: string,
  labels: Record<string, string> = {},
): Promise<string> {
  pods.add({ uid: `uid-${id}`, name: `pod-${id}`, labels });
  const [address] = okAddresses(await settleAll(h, [h.add(id)]));
  expect(address).toBeDefined();
  return address!;
}

function holder(h: AgentHarness, address: string): string | undefined {
  return h.agent
    .view()
    .datastore.assignments()
    .find((a) => a.address === address)?.key.containerId;
}

describe('leaked addresses: pods gone without a DEL', () => {
  it('releases the address of a pod deleted without a DEL after the grace period, not before, counted as pod_gone', async () => {
    const { h, pods, metrics } = node();
    await h.start();
    await h.run(5_000);
    const kept = await runPod(h, pods, 'stays');
    const leaked = await runPod(h, pods, 'gone');
    pods.delete('uid-gone');
    const deletedAt = h.clock.now();

    await h.run(GRACE_S * 1000 - 1);
    expect(holder(h, leaked)).toBe('gone');
    expect(await counter(metrics(), 'eniipam_leaks_found_total', 'pod_gone')).toBe(1);
    expect(await counter(metrics(), 'eniipam_leaks_released_total', 'pod_gone')).toBe(0);

    await h.clock.runUntil(() => holder(h, leaked) === undefined, 2 * SCAN_MS);
    expect(holder(h, leaked)).toBeUndefined();
    expect(h.clock.now() - deletedAt).toBeLessThanOrEqual(GRACE_S * 1000 + SCAN_MS);
    expect(await counter(metrics(), 'eniipam_leaks_released_total', 'pod_gone')).toBe(1);
    // Released into cooldown like a DEL, then free; the other pod keeps its address.
    expect(
      h.agent
        .view()
        .datastore.addressRecords()
        .find((r) => r.address === leaked)?.state.type,
    ).toBe('cooling');
    expect(holder(h, kept)).toBe('stays');
    await h.run(COOLDOWN_S * 1000);
    expect(
      h.agent
        .view()
        .datastore.addressRecords()
        .find((r) => r.address === leaked)?.state.type,
    ).toBe('available');
    expectAgentMatchesEc2(h);
  });

  it('keeps the address of a pod that reappears within the grace period (a watch that lagged or relisted)', async () => {
    const { h, pods, metrics } = node();
    await h.start();
    await h.run(5_000);
    const address = await runPod(h, pods, 'flaky');
    pods.delete('uid-flaky');
    await h.run(40_000);
    pods.add({ uid: 'uid-flaky', name: 'pod-flaky' });
    await h.run(5 * GRACE_S * 1000);
    expect(holder(h, address)).toBe('flaky');
    expect(await counter(metrics(), 'eniipam_leaks_released_total', 'pod_gone')).toBe(0);
  });

  it('keeps the address of a fresh ADD whose pod the watch has not shown yet, and frees nothing while the watch is out of sync', async () => {
    const { h, pods } = node();
    await h.start();
    await h.run(5_000);
    const [early] = okAddresses(await settleAll(h, [h.add('early')]));
    await h.run(GRACE_S * 500);
    pods.add({ uid: 'uid-early', name: 'pod-early' });
    const other = await runPod(h, pods, 'other');

    pods.setSynced(false);
    pods.delete('uid-other');
    await h.run(5 * GRACE_S * 1000);
    expect(holder(h, early!)).toBe('early');
    expect(holder(h, other)).toBe('other');
    // Back in sync: the pod is really gone, and its grace period starts now.
    pods.setSynced(true);
    await h.run(GRACE_S * 1000 - SCAN_MS);
    expect(holder(h, other)).toBe('other');
    await h.run(2 * SCAN_MS);
    expect(holder(h, other)).toBeUndefined();
    expect(holder(h, early!)).toBe('early');
  });

  it('releases the address of a pod deleted while the agent was down (kill -9), after the grace period', async () => {
    const { h, pods, metrics } = node();
    await h.start();
    await h.run(5_000);
    const address = await runPod(h, pods, 'victim');
    const survivor = await runPod(h, pods, 'survivor');
    h.kill();
    pods.delete('uid-victim');
    await h.run(30_000);
    h.agent = h.newAgent();
    await h.start();
    expect(holder(h, address)).toBe('victim');
    await h.run(GRACE_S * 1000 + SCAN_MS);
    expect(holder(h, address)).toBeUndefined();
    expect(holder(h, survivor)).toBe('survivor');
    expect(await counter(metrics(), 'eniipam_leaks_released_total', 'pod_gone')).toBe(1);
    expectAgentMatchesEc2(h);
  });
});

describe('KubeVirt VM addresses', () => {
  it('a VM keeps its address across stop (pod deleted, DEL) and start (a new pod); deleting the VM releases it after the grace period', async () => {
    const { h, pods, vms, metrics } = node();
    await h.start();
    await h.run(5_000);
    vms.add({ uid: 'vm-uid-1', name: 'vm1' });
    const vmLabel = { [KUBEVIRT_VM_LABEL]: 'vm1' };
    const address = await runPod(h, pods, 'launcher-a', vmLabel);
    expect(
      h.agent.view().datastore.assignmentOf({ containerId: 'launcher-a', ifName: 'eth0' })?.owner,
    ).toMatchObject({
      kind: 'VirtualMachine',
      name: 'vm1',
      uid: 'vm-uid-1',
    });

    // Stop: the virt-launcher pod goes, with its DEL. The VM still exists: the address stays.
    expect(await h.del('launcher-a')).toEqual({ kind: 'ok' });
    pods.delete('uid-launcher-a');
    await h.run(3 * GRACE_S * 1000);
    expect(holder(h, address)).toBe('launcher-a');
    // Meanwhile other pods never get it.
    const others: string[] = [];
    for (let i = 0; i < 5; i++) others.push(await runPod(h, pods, `x${i}`));
    expect(others).not.toContain(address);

    // Start: a new pod (new container, new uid) of the same VM gets the same address.
    const again = await runPod(h, pods, 'launcher-b', vmLabel);
    expect(again).toBe(address);
    expect(holder(h, address)).toBe('launcher-b');
    // On the new pod's CNI network, so that a CNI GC of that network can collect it.
    expect(
      h.agent.view().datastore.assignmentOf({ containerId: 'launcher-b', ifName: 'eth0' })?.network,
    ).toBe('eni-ipam');

    // Stop, then delete the VM: released once the grace period has passed, counted as vm_deleted.
    await h.del('launcher-b');
    pods.delete('uid-launcher-b');
    await h.run(10_000);
    expect(holder(h, address)).toBe('launcher-b');
    vms.delete('vm-uid-1');
    await h.run(GRACE_S * 1000 - SCAN_MS);
    expect(holder(h, address)).toBe('launcher-b');
    await h.run(2 * SCAN_MS);
    expect(holder(h, address)).toBeUndefined();
    expect(await counter(metrics(), 'eniipam_leaks_released_total', 'vm_deleted')).toBe(1);
    expect(await counter(metrics(), 'eniipam_leaks_released_total', 'pod_gone')).toBe(0);
  });

  it('releases a VM address on DEL when the VM is already gone (deleted while running)', async () => {
    const { h, pods, vms } = node();
    await h.start();
    await h.run(5_000);
    vms.add({ uid: 'vm-uid-2', name: 'vm2' });
    const address = await runPod(h, pods, 'launcher', { [KUBEVIRT_VM_LABEL]: 'vm2' });
    vms.delete('vm-uid-2');
    await h.del('launcher');
    pods.delete('uid-launcher');
    expect(holder(h, address)).toBeUndefined();
  });

  it('a VM pod on a cluster without KubeVirt is an ordinary pod: DEL releases its address', async () => {
    const { h, pods, vms } = node();
    vms.state = 'absent';
    await h.start();
    await h.run(5_000);
    const address = await runPod(h, pods, 'launcher', { [KUBEVIRT_VM_LABEL]: 'vm3' });
    expect(
      h.agent.view().datastore.assignmentOf({ containerId: 'launcher', ifName: 'eth0' })?.owner,
    ).toBeUndefined();
    await h.del('launcher');
    expect(holder(h, address)).toBeUndefined();
  });
});

describe('ENIs leaked by a previous process', () => {
  it('deletes at start-up the unattached ENIs created before this process started, without the grace period', async () => {
    const h = new AgentHarness(settings({}, { leakedEniCleanup: true, leakedEniGraceMs: 300_000 }));
    const before = h.clock.now() - 1_000;
    h.ec2.unattached.push({
      eniId: 'eni-left-by-kill',
      subnetId: 'subnet-a',
      instanceId: 'i-0123456789abcdef0',
      createdAt: before,
    });
    await h.start();
    await h.run(1_000);
    expect(h.ec2.unattached).toEqual([]);
  });

  it('leaves an ENI created after the start to the periodic scan and its grace period', async () => {
    const h = new AgentHarness(settings({}, { leakedEniCleanup: true, leakedEniGraceMs: 300_000 }));
    const startedAt = h.clock.now();
    h.ec2.unattached.push({
      eniId: 'eni-in-flight',
      subnetId: 'subnet-a',
      instanceId: 'i-0123456789abcdef0',
      createdAt: startedAt + 500,
    });
    await h.start();
    await h.run(1_000);
    expect(h.ec2.unattached.map((e) => e.eniId)).toEqual(['eni-in-flight']);
    // The periodic scan (every 5 minutes) deletes it once it is older than the grace period.
    await h.run(10 * 60_000);
    expect(h.ec2.unattached).toEqual([]);
  });
});
