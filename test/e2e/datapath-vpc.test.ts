/**
 * Issue 13: pods on every ENI reach the network. Two nodes of an emulated VPC (network namespaces
 * driven by the simulated EC2, enforcing the source/destination check), each running the real agent
 * in its own namespace against EC2 and IMDS reached through the VPC, pods set up by the shipped
 * conflist (ptp + portmap, eni-ipam as IPAM) through cnitool. Every check is real TCP traffic.
 * Needs root and the `vpc` peer (test/peers/install.sh vpc); `npm run build` first.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PeerProcess } from '../peers/process.js';
import {
  EmulatedVpc,
  INTERNET_HOST,
  NATGW_PUBLIC_IP,
  VPC_CIDR,
  type VpcNode,
} from '../peers/vpc/emulated-vpc.js';
import {
  NodeAgent,
  NodePods,
  ipIn,
  seenSource,
  startEchoServer,
  tcpExchange,
  type Pod,
} from './harness/vpc-node.js';

const ECHO_PORT = 7070;
const INTERNET_PORT = 443;

let vpc: EmulatedVpc;
const agents: NodeAgent[] = [];
const podSets: NodePods[] = [];
const servers: PeerProcess[] = [];

async function server(netns: string, port = ECHO_PORT): Promise<void> {
  servers.push(await startEchoServer(netns, port));
}

afterAll(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
  for (const pods of podSets) await pods.removeAll();
  for (const agent of agents) await agent.remove().catch(() => undefined);
  await vpc?.close();
});

afterEach(async () => {
  // Done means 5: EC2's source/destination check never had to drop a packet.
  expect(await vpc.sourceDestCheckDrops()).toBe(0);
});

/** Received packets of an ENI's link as the VPC sees them (the VPC side of its veth). */
async function eniReceived(eniId: string): Promise<number> {
  const link = vpc.linkOf(eniId);
  if (!link) throw new Error(`${eniId} has no link in the VPC`);
  const [stats] = JSON.parse(await ipIn(vpc.vpcNetns, ['-j', '-s', 'link', 'show', link.vpcIfname])) as {
    stats64: { rx: { packets: number } };
  }[];
  return stats?.stats64.rx.packets ?? 0;
}

/** Adds pods until one lands on a secondary ENI. */
async function podOnSecondary(
  pods: NodePods,
  agent: NodeAgent,
  name: string,
): Promise<{ pod: Pod; eniId: string }> {
  for (let i = 0; i < 40; i++) {
    const pod = await pods.add(`${name}-${i}`);
    const view = (await agent.pods()).find((p) => p.ip === pod.address);
    const eni = (await agent.enis()).find((e) => e.eniId === view?.eniId);
    if (eni && eni.deviceIndex > 0) return { pod, eniId: eni.eniId };
  }
  throw new Error('no pod landed on a secondary ENI');
}

/** Adds pods until one lands on the ENI with `deviceIndex`; the pods before it stay. */
async function podOnDevice(
  pods: NodePods,
  agent: NodeAgent,
  deviceIndex: number,
  name: string,
): Promise<Pod> {
  for (let i = 0; i < 40; i++) {
    const pod = await pods.add(`${name}-${i}`);
    if ((await agent.deviceIndexOf(pod.address)) === deviceIndex) return pod;
  }
  throw new Error(`no pod landed on device ${deviceIndex}`);
}

describe('pods on every ENI of nodes in an emulated VPC', () => {
  let node0: VpcNode;
  let node1: VpcNode;
  let pods0: NodePods;
  let pods1: NodePods;
  let agent0: NodeAgent;
  let agent1: NodeAgent;

  beforeAll(async () => {
    vpc = await EmulatedVpc.start({ sim: { seed: 13 } });
    node0 = await vpc.addNode('t3.medium');
    node1 = await vpc.addNode('t3.medium');
    agent0 = await NodeAgent.start(node0, { WARM_IP_TARGET: '2', MINIMUM_IP_TARGET: '2' });
    agents.push(agent0);
    // The second node leaves pod traffic unSNATed: a NAT gateway translates (external SNAT).
    agent1 = await NodeAgent.start(node1, {
      WARM_IP_TARGET: '2',
      MINIMUM_IP_TARGET: '2',
      AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true',
    });
    agents.push(agent1);
    pods0 = await NodePods.create(vpc, agent0);
    pods1 = await NodePods.create(vpc, agent1);
    podSets.push(pods0, pods1);
    await server(vpc.internetNetns, INTERNET_PORT);
  });

  it('1: a pod on the primary ENI and a pod on the third ENI of one node talk to each other', async () => {
    const first = await pods0.add('primary');
    expect(await agent0.deviceIndexOf(first.address)).toBe(0);
    const third = await podOnDevice(pods0, agent0, 2, 'third');
    await server(first.netns);
    await server(third.netns);
    expect(await seenSource(third.netns, first.address, ECHO_PORT)).toBe(third.address);
    expect(await seenSource(first.netns, third.address, ECHO_PORT)).toBe(first.address);
    // What a user would check on the node: the third ENI's table and the pod's rules.
    const rules = await ipIn(node0.netns, ['rule', 'show']);
    expect(rules).toContain(`512:\tfrom all to ${third.address} lookup main`);
    expect(rules).toContain(`1536:\tfrom ${third.address} to ${VPC_CIDR} lookup 3`);
    expect(rules).not.toContain(`from ${first.address} `);
    expect(await ipIn(node0.netns, ['route', 'show', 'table', '3'])).toMatch(
      /^default via 198\.18\.128\.1 dev eth2/m,
    );
  });

  it('2: pods on secondary ENIs of two nodes talk both ways', async () => {
    const a = await podOnSecondary(pods0, agent0, 'east');
    const b = await podOnSecondary(pods1, agent1, 'west');
    await server(a.pod.netns);
    await server(b.pod.netns);
    const [inA, inB] = [await eniReceived(a.eniId), await eniReceived(b.eniId)];
    expect(await seenSource(a.pod.netns, b.pod.address, ECHO_PORT)).toBe(a.pod.address);
    expect(await seenSource(b.pod.netns, a.pod.address, ECHO_PORT)).toBe(b.pod.address);
    // Each pod's packets left by its own ENI: the VPC received them on that ENI's link.
    expect(await eniReceived(a.eniId)).toBeGreaterThan(inA);
    expect(await eniReceived(b.eniId)).toBeGreaterThan(inB);
  });

  it("the pods' gateway is the subnet's reserved fourth address: the VPC router never becomes a node address", async () => {
    const addresses = await ipIn(node0.netns, ['-4', '-o', 'addr', 'show']);
    expect(addresses).toContain(' 198.18.128.3/32 ');
    expect(addresses).not.toContain(' 198.18.128.1/');
    // The node itself still reaches past its router.
    expect(await seenSource(node0.netns, INTERNET_HOST, INTERNET_PORT)).toBe(node0.primaryIp);
  });

  it('3: a pod on a secondary ENI reaches the internet seen as the node primary address (SNAT)', async () => {
    const { pod } = await podOnSecondary(pods0, agent0, 'out');
    const rejected = await vpc.internetRejected();
    expect(await seenSource(pod.netns, INTERNET_HOST, INTERNET_PORT)).toBe(node0.primaryIp);
    expect(await vpc.internetRejected()).toBe(rejected);
  });

  it('3: with external SNAT the pod keeps its address, leaves by its own ENI and reaches the internet through the NAT gateway', async () => {
    const { pod, eniId } = await podOnSecondary(pods1, agent1, 'ext');
    expect(await ipIn(node1.netns, ['rule', 'show'])).toMatch(
      new RegExp(`1536:\\tfrom ${pod.address} lookup \\d+`),
    );
    // Through the internet gateway alone an unSNATed pod address is refused: the check is real.
    const rejected = await vpc.internetRejected();
    await expect(tcpExchange(pod.netns, INTERNET_HOST, INTERNET_PORT)).rejects.toThrow(/failed/);
    expect(await vpc.internetRejected()).toBeGreaterThan(rejected);
    await vpc.setInternetPath('nat-gateway');
    try {
      const received = await eniReceived(eniId);
      expect(await seenSource(pod.netns, INTERNET_HOST, INTERNET_PORT)).toBe(NATGW_PUBLIC_IP);
      expect(await eniReceived(eniId)).toBeGreaterThan(received);
    } finally {
      await vpc.setInternetPath('internet-gateway');
    }
  });

  it("4: a hostPort on the node's primary address (portmap DNAT) reaches a pod on a secondary ENI from another node", async () => {
    const hostPort = 30080;
    const target = await podOnSecondaryWithPort(pods0, agent0, hostPort);
    await server(target.netns);
    const { pod: client } = await podOnSecondary(pods1, agent1, 'client');
    // The reply leaves by the primary ENI (connmark) or the VPC would drop it (afterEach). portmap
    // masquerades clients inside the pod's prefix (its hairpin rule): the pod sees its gateway.
    expect(await tcpExchange(client.netns, node0.primaryIp, hostPort, 'nodeport')).toBe(
      'nodeport from 198.18.128.3',
    );
    expect(await tcpExchange(node1.netns, node0.primaryIp, hostPort, 'nodeport')).toBe(
      'nodeport from 198.18.128.3',
    );
    const rules = await ipIn(node0.netns, ['rule', 'show']);
    expect(rules).toContain('1024:\tfrom all fwmark 0x80/0x80 lookup main');
  });

  /** Pods are added until one lands on a secondary ENI, this one with a hostPort mapping. */
  async function podOnSecondaryWithPort(pods: NodePods, agent: NodeAgent, hostPort: number): Promise<Pod> {
    for (let i = 0; i < 40; i++) {
      const pod = await pods.add(`np-${i}`, {
        portMappings: [{ hostPort, containerPort: ECHO_PORT, protocol: 'tcp', hostIP: pods.node.primaryIp }],
      });
      if (((await agent.deviceIndexOf(pod.address)) ?? 0) > 0) return pod;
      await pods.del(pod);
    }
    throw new Error('no pod landed on a secondary ENI');
  }
});
