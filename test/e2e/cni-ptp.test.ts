/**
 * Issue 7, case 1: the reference `ptp` plugin with `"ipam": {"type": "eni-ipam"}` in network
 * namespaces made by the test, with the real agent process behind the plugin and the simulated EC2
 * behind the agent. Each case checks what a user would: the address inside the namespace, the
 * secondary IPs EC2 shows on the node's ENIs, and the agent's introspection (/v1/pods, /v1/enis).
 * Needs root (network namespaces) and the `cni` peer; `npm run build` first.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCnitool } from '../peers/cnitool.js';
import { interfaceAddresses, type NetNs } from '../peers/netns.js';
import { requireOnPath } from '../peers/paths.js';
import {
  startAgentProcess,
  startSimulatedNode,
  type AgentProcess,
  type SimulatedNode,
} from './harness/agent-process.js';
import { createCniBinDir, type CniBinDir } from './harness/cni-bin.js';
import {
  cniArgsOf,
  createSandbox,
  ipamBlock,
  NETWORK_NAME,
  POD_IFNAME,
  PtpNetwork,
  runEniIpam,
  type PodSandbox,
} from './harness/cni-runtime.js';
import { BALANCED, compareAgentWithEc2, ec2TruthOf } from './harness/ec2-truth.js';

const execFileAsync = promisify(execFile);

/** libcni's codes as the plugin prints them (docs/cni.md). */
const CNI_INVALID_CONFIG = 7;
const CNI_TRY_AGAIN_LATER = 11;
const CNI_NOT_AVAILABLE = 50;

/** Every namespace a case made, deleted in afterAll even when the case failed half-way. */
const sandboxes: PodSandbox[] = [];
async function sandbox(name?: string): Promise<PodSandbox> {
  const made = await createSandbox(name);
  sandboxes.push(made);
  return made;
}
afterAll(async () => {
  await Promise.allSettled(sandboxes.map((s) => s.netns.delete()));
});

async function ipv4Of(netns: NetNs): Promise<string[]> {
  return (await interfaceAddresses(netns.name, POD_IFNAME))
    .filter((a) => a.family === 'inet')
    .map((a) => a.address);
}

function describeFailure(
  agent: AgentProcess,
  what: string,
  outcome: { stdout: string; stderr: string },
): string {
  return `${what}\nstdout: ${outcome.stdout}\nstderr: ${outcome.stderr}\nagent log tail:\n${agent.output().slice(-4000)}`;
}

describe("Debian's ptp (CNI 1.0.0) with eni-ipam as its IPAM", () => {
  let node: SimulatedNode;
  let agent: AgentProcess;
  let bin: CniBinDir;
  let ptp: PtpNetwork;

  beforeAll(async () => {
    bin = await createCniBinDir('debian');
    // m5.xlarge: 4 ENIs x 15 addresses, max pods 58: room for the 50 parallel sandboxes.
    node = await startSimulatedNode({ instanceType: 'm5.xlarge', sim: { seed: 11 } });
    // A short cooldown: released addresses come back within a case, not after the default 30 s.
    agent = await startAgentProcess({ node, env: { IP_COOLDOWN_PERIOD: '5' } });
    ptp = new PtpNetwork(bin, agent, '1.0.0');
  });
  afterAll(async () => {
    await agent?.stop();
    await node?.close();
    await agent?.removeState();
    await bin?.remove();
  });

  async function addPod(name?: string): Promise<{ pod: PodSandbox; address: string }> {
    const pod = await sandbox(name);
    const added = await ptp.add(pod);
    expect(added.exitCode, describeFailure(agent, 'ADD failed', added)).toBe(0);
    expect(added.address).toBeDefined();
    return { pod, address: added.address ?? '' };
  }

  it('ADD gives the container interface a secondary IP of one of the node ENIs', async () => {
    const { pod, address } = await addPod('web');
    expect(await ipv4Of(pod.netns)).toEqual([address]);
    const holder = ec2TruthOf(node).secondaryIps.get(address);
    expect(holder, `EC2 shows ${address} on no ENI of ${node.instance.instanceId}`).toBeDefined();
    const listed = (await agent.pods()).filter((p) => p.containerId === pod.containerId);
    expect(listed).toEqual([
      expect.objectContaining({
        ip: address,
        eniId: holder,
        ifName: POD_IFNAME,
        namespace: 'default',
        name: 'web',
        uid: pod.uid,
      }),
    ]);
    await ptp.del(pod);
  });

  it('a second ADD for the same container gives the same address and holds one', async () => {
    const { pod, address } = await addPod();
    // What ptp sends its IPAM, again: a runtime retrying after a lost answer. (ptp itself cannot be
    // run twice: it fails on the existing eth0 and then calls IPAM DEL, which releases the address.)
    const again = () =>
      runEniIpam(bin, agent, {
        command: 'ADD',
        cniVersion: '1.0.0',
        containerId: pod.containerId,
        ifname: POD_IFNAME,
        netns: pod.netns.path,
        args: cniArgsOf(pod),
      });
    for (const outcome of [await again(), await again()]) {
      expect(outcome.exitCode, describeFailure(agent, 'repeated ADD failed', outcome)).toBe(0);
      expect(outcome.address).toBe(address);
    }
    expect((await agent.pods()).filter((p) => p.containerId === pod.containerId).map((p) => p.ip)).toEqual([
      address,
    ]);
    expect((await agent.pods()).filter((p) => p.ip === address)).toHaveLength(1);
    await ptp.del(pod);
  });

  it('CHECK passes, then fails once the address in the namespace is tampered with', async () => {
    const { pod, address } = await addPod();
    const ok = await ptp.check(pod);
    expect(ok.exitCode, describeFailure(agent, 'CHECK of an intact pod failed', ok)).toBe(0);

    const ip = requireOnPath('cni', 'ip');
    const prefix = (await interfaceAddresses(pod.netns.name, POD_IFNAME)).find(
      (a) => a.address === address,
    )?.prefixLength;
    await execFileAsync(ip, [
      '-n',
      pod.netns.name,
      'addr',
      'del',
      `${address}/${String(prefix)}`,
      'dev',
      POD_IFNAME,
    ]);
    await execFileAsync(ip, ['-n', pod.netns.name, 'addr', 'add', '192.0.2.77/32', 'dev', POD_IFNAME]);
    const tampered = await ptp.check(pod);
    expect(tampered.exitCode).not.toBe(0);
    expect(tampered.errorCode, `CHECK must fail with CNI error JSON: ${tampered.stdout}`).toBeTypeOf(
      'number',
    );

    // The IPAM's own CHECK: the agent confirms the container holds exactly the address it claims.
    const prev = (claimed: string): Record<string, unknown> => ({
      prevResult: { cniVersion: '1.0.0', ips: [{ address: `${claimed}/32` }] },
    });
    const check = (claimed: string) =>
      runEniIpam(bin, agent, {
        command: 'CHECK',
        cniVersion: '1.0.0',
        containerId: pod.containerId,
        ifname: POD_IFNAME,
        netns: pod.netns.path,
        extra: prev(claimed),
      });
    expect((await check(address)).exitCode).toBe(0);
    const wrong = await check('192.0.2.77');
    expect(wrong.exitCode).toBe(1);
    expect(wrong.errorCode).toBeTypeOf('number');
    await ptp.del(pod);
  });

  it('DEL removes the interface, frees the address in the agent, and is idempotent', async () => {
    const { pod, address } = await addPod();
    const assignedBefore = (await agent.enis()).reduce((n, eni) => n + eni.assigned, 0);
    const deleted = await ptp.del(pod);
    expect(deleted.exitCode, describeFailure(agent, 'DEL failed', deleted)).toBe(0);
    expect(await ipv4Of(pod.netns)).toEqual([]);
    expect((await agent.pods()).some((p) => p.containerId === pod.containerId || p.ip === address)).toBe(
      false,
    );
    const enis = await agent.enis();
    expect(enis.reduce((n, eni) => n + eni.assigned, 0)).toBe(assignedBefore - 1);
    // Freed, not given back to EC2 at once: it cools down on its ENI, and EC2 still shows it there.
    expect(enis.find((eni) => eni.secondaryIps.includes(address))?.cooling).toBeGreaterThanOrEqual(1);
    expect(ec2TruthOf(node).secondaryIps.has(address)).toBe(true);
    // kubelet repeats DEL until it succeeds; a DEL of a gone sandbox must succeed too.
    expect((await ptp.del(pod)).exitCode).toBe(0);
  });

  it('GC frees a reservation whose attachment is not listed and keeps the listed ones', async () => {
    const kept = await addPod('kept');
    const forgotten = await addPod('forgotten');
    const gc = (key: string, attachments: { containerID: string; ifname: string }[]) =>
      runEniIpam(bin, agent, { command: 'GC', cniVersion: '1.1.0', extra: { [key]: attachments } });

    const refused = await runEniIpam(bin, agent, { command: 'GC', cniVersion: '1.1.0' });
    expect(refused.errorCode, 'a GC without its list must not release everything').toBe(CNI_INVALID_CONFIG);
    expect((await agent.pods()).map((p) => p.containerId)).toEqual(
      expect.arrayContaining([kept.pod.containerId, forgotten.pod.containerId]),
    );

    const outcome = await gc('cni.dev/valid-attachments', [
      { containerID: kept.pod.containerId, ifname: POD_IFNAME },
    ]);
    expect(outcome.exitCode, describeFailure(agent, 'GC failed', outcome)).toBe(0);
    const after = new Map((await agent.pods()).map((p) => [p.containerId, p.ip]));
    expect(after.get(kept.pod.containerId)).toBe(kept.address);
    expect(after.has(forgotten.pod.containerId)).toBe(false);

    // The older key (CNI 1.1.0 drafts) works the same way.
    const older = await gc('cni.dev/attachments', []);
    expect(older.exitCode, describeFailure(agent, 'GC with cni.dev/attachments failed', older)).toBe(0);
    expect((await agent.pods()).some((p) => p.containerId === kept.pod.containerId)).toBe(false);
  });

  it('50 namespaces in parallel get 50 distinct addresses, all on the node ENIs', async () => {
    const pods = await Promise.all(Array.from({ length: 50 }, (_, i) => sandbox(`burst-${i}`)));
    const added = await Promise.all(pods.map((pod) => ptp.add(pod)));
    for (const [i, outcome] of added.entries()) {
      expect(outcome.exitCode, describeFailure(agent, `ADD ${i} failed`, outcome)).toBe(0);
    }
    const addresses = added.map((outcome) => outcome.address ?? '');
    expect(new Set(addresses).size).toBe(50);
    const truth = ec2TruthOf(node);
    expect(addresses.filter((a) => !truth.secondaryIps.has(a))).toEqual([]);
    const inside = await Promise.all(pods.map((pod) => ipv4Of(pod.netns)));
    expect(inside).toEqual(addresses.map((a) => [a]));
    const listed = new Map((await agent.pods()).map((p) => [p.containerId, p.ip]));
    expect(pods.map((pod) => listed.get(pod.containerId))).toEqual(addresses);
    expect(await compareAgentWithEc2(node, agent)).toEqual(BALANCED);

    const deleted = await Promise.all(pods.map((pod) => ptp.del(pod)));
    expect(deleted.map((d) => d.exitCode)).toEqual(pods.map(() => 0));
    const remaining = new Set((await agent.pods()).map((p) => p.containerId));
    expect(pods.filter((pod) => remaining.has(pod.containerId))).toEqual([]);
  });
});

describe('STATUS on a node at its max pods (t3.micro, MAX_ENI=1)', () => {
  let node: SimulatedNode;
  let agent: AgentProcess;
  let bin: CniBinDir;
  let ptp: PtpNetwork;

  beforeAll(async () => {
    bin = await createCniBinDir('debian');
    node = await startSimulatedNode({ instanceType: 't3.micro', sim: { seed: 12 } });
    // One ENI with two IPv4 slots: one pod address. A full node answers ADD quickly with code 11.
    agent = await startAgentProcess({ node, env: { MAX_ENI: '1', ENI_IPAM_ADD_WAIT_SECONDS: '2' } });
    ptp = new PtpNetwork(bin, agent, '1.0.0');
  });
  afterAll(async () => {
    await agent?.stop();
    await node?.close();
    await agent?.removeState();
    await bin?.remove();
  });

  it('reports code 50 once no pod fits, and ok again after a DEL', async () => {
    const status = () => runEniIpam(bin, agent, { command: 'STATUS', cniVersion: '1.1.0' });
    const before = await status();
    expect(before.exitCode, describeFailure(agent, 'STATUS of an empty node failed', before)).toBe(0);

    const first = await sandbox('only');
    const added = await ptp.add(first);
    expect(added.exitCode, describeFailure(agent, 'ADD failed', added)).toBe(0);
    const refused = await ptp.add(await sandbox('one-too-many'));
    expect(refused.errorCode, `a full node answers "try again later": ${refused.stdout}`).toBe(
      CNI_TRY_AGAIN_LATER,
    );

    const full = await status();
    const state = JSON.stringify(await agent.introspect('/v1/state'));
    expect(
      full.exitCode,
      `STATUS of a node that just refused an ADD for room answered ok; /v1/state: ${state}`,
    ).toBe(1);
    expect(full.errorCode, `STATUS of a full node: ${full.stdout}`).toBe(CNI_NOT_AVAILABLE);

    expect((await ptp.del(first)).exitCode).toBe(0);
    expect((await status()).exitCode).toBe(0);
  });
});

describe('upstream ptp (CNI 1.1.0) through cnitool', () => {
  let node: SimulatedNode;
  let agent: AgentProcess;
  let bin: CniBinDir;
  let confDir: string;

  beforeAll(async () => {
    bin = await createCniBinDir('upstream');
    node = await startSimulatedNode({ instanceType: 't3.medium', sim: { seed: 13 } });
    agent = await startAgentProcess({ node });
    confDir = await mkdtemp(join(tmpdir(), 'eni-ipam-e2e-netconf-'));
    await writeFile(
      join(confDir, `${NETWORK_NAME}.conflist`),
      JSON.stringify({
        cniVersion: '1.1.0',
        name: NETWORK_NAME,
        plugins: [{ type: 'ptp', ipam: ipamBlock(agent) }],
      }),
    );
  });
  afterAll(async () => {
    await agent?.stop();
    await node?.close();
    await agent?.removeState();
    await bin?.remove();
    if (confDir) await rm(confDir, { recursive: true, force: true });
  });

  it('ADD, CHECK, STATUS and DEL of a network list', async () => {
    const pod = await sandbox();
    const run = (command: 'add' | 'check' | 'del' | 'status') =>
      runCnitool({
        command,
        networkName: NETWORK_NAME,
        confDir,
        netns: pod.netns.path,
        cniPath: [bin.dir],
        ifname: POD_IFNAME,
        // What the kubelet always passes: an ADD that names no pod is refused (docs/cni.md).
        args: cniArgsOf(pod),
      });
    const added = await run('add');
    expect(added.exitCode, describeFailure(agent, 'cnitool add failed', added)).toBe(0);
    const result = JSON.parse(added.stdout) as { cniVersion: string; ips: { address: string }[] };
    expect(result.cniVersion).toBe('1.1.0');
    const address = result.ips[0]?.address.split('/')[0] ?? '';
    expect(ec2TruthOf(node).secondaryIps.has(address)).toBe(true);
    expect(await ipv4Of(pod.netns)).toEqual([address]);
    expect((await agent.pods()).map((p) => p.ip)).toContain(address);

    const checked = await run('check');
    expect(checked.exitCode, describeFailure(agent, 'cnitool check failed', checked)).toBe(0);
    const status = await run('status');
    expect(status.exitCode, describeFailure(agent, 'cnitool status failed', status)).toBe(0);
    const deleted = await run('del');
    expect(deleted.exitCode, describeFailure(agent, 'cnitool del failed', deleted)).toBe(0);
    expect((await agent.pods()).map((p) => p.ip)).not.toContain(address);
  });
});
