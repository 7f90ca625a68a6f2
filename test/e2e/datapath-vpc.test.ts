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
});
