/**
 * DescribeSubnets fully denied (an IAM policy without ec2:DescribeSubnets): the agent runs on the
 * node's own subnet, as the AWS VPC CNI does, with the real provider over a mocked EC2 client, so
 * that every DescribeSubnets the provider would send (discovery, lookups by id, the CIDRs of the
 * node's ENIs) meets the refusal.
 */
import { DescribeNetworkInterfacesCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { MemoryCheckpointer } from '../../agent/checkpoint.js';
import { silentLogger } from '../../agent/logger.js';
import { NodeAgent } from '../../agent/node-agent.js';
import {
  awsError,
  eni,
  fakeMetadata,
  harness,
  identityMetadata,
  INSTANCE_ID,
  NODE_SUBNET,
  NODE_SUBNET_CIDR,
} from '../provider/harness.js';
import { settings } from './fakes/agent-harness.js';

const MAC = '0a:00:00:00:00:00';
/** The instance's identity from IMDS, as on a healthy node; no ENI listing (the EC2 path lists them). */
const IDENTITY_METADATA = identityMetadata(MAC);

/** The primary ENI with two free secondary addresses: WARM_IP_TARGET=2 asks EC2 for nothing more. */
const PRIMARY = eni('eni-00', {
  deviceIndex: 0,
  MacAddress: MAC,
  PrivateIpAddresses: [
    { PrivateIpAddress: '10.0.0.10', Primary: true },
    { PrivateIpAddress: '10.0.0.11', Primary: false },
    { PrivateIpAddress: '10.0.0.12', Primary: false },
  ],
});

function deniedNode(subnetDiscovery: boolean) {
  const h = harness({ metadata: fakeMetadata(IDENTITY_METADATA) });
  h.ec2.on(DescribeSubnetsCommand).rejects(awsError('UnauthorizedOperation', 403));
  h.ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [PRIMARY] });
  const agent = new NodeAgent({
    settings: settings({ WARM_IP_TARGET: '2' }, { subnetDiscovery }),
    ec2: h.network,
    clock: h.clock,
    logger: silentLogger(),
    checkpointer: new MemoryCheckpointer(h.clock),
  });
  return { h, agent };
}

describe('DescribeSubnets denied', () => {
  it.each([
    ['with subnet discovery', true],
    ['without subnet discovery', false],
  ])("%s: start-up and resync run on the node's own subnet", async (_name, subnetDiscovery) => {
    const { h, agent } = deniedNode(subnetDiscovery);
    await h.drive(agent.start());
    const view = agent.view();
    expect(view.subnets.map((s) => [s.subnetId, s.cidr])).toEqual([[NODE_SUBNET, NODE_SUBNET_CIDR]]);
    expect(view.datastore.enis().map((e) => [e.id, e.subnetCidr])).toEqual([['eni-00', NODE_SUBNET_CIDR]]);
    expect(view.datastore.totals().total).toBe(2);

    await h.drive(agent.resync());
    expect(
      agent
        .view()
        .datastore.enis()
        .map((e) => e.id),
    ).toEqual(['eni-00']);
    expect(agent.view().subnets.map((s) => s.subnetId)).toEqual([NODE_SUBNET]);
    await h.drive(agent.close());
  });

  it("lists the node's ENIs without DescribeSubnets when their subnet's CIDR is known from IMDS", async () => {
    const { h } = deniedNode(true);
    await h.drive(h.network.identity());
    const listed = await h.drive(h.network.listAttachedEnis(INSTANCE_ID));
    expect(listed.map((e) => [e.eniId, e.subnetCidr])).toEqual([['eni-00', NODE_SUBNET_CIDR]]);
    expect(h.ec2.commandCalls(DescribeSubnetsCommand)).toHaveLength(0);
  });
});
