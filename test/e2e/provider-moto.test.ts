/**
 * The provider against moto, an EC2 implementation we did not write: the SDK's wire format both
 * ways, and the create / attach / assign / unassign / describe / detach / delete flows.
 *
 * moto is shallow, so this asserts only what it models. It does not model: AssignPrivateIpAddresses
 * answering with only the new addresses (it lists every address of the ENI), ENI or address limits
 * per instance type, unique addresses across ENIs (it may hand out duplicates), AvailableIpAddressCount
 * decreasing with secondary addresses, DeleteOnTermination, /28 prefix delegation, throttling, or
 * eventual consistency. Those are covered against our own simulator (test/sim, test/provider).
 */
import {
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsEc2Network } from '../../provider/aws-ec2-network.js';
import type { MetadataSource } from '../../provider/metadata.js';
import { startMoto, type MotoPeer } from '../peers/moto.js';

const REGION = 'us-east-1';

describe('provider against moto', () => {
  let moto: MotoPeer;
  let sdk: EC2Client;
  let network: AwsEc2Network;
  let instanceId: string;
  let subnetId: string;
  let otherSubnetId: string;
  let vpcId: string;

  beforeAll(async () => {
    moto = await startMoto(REGION);
    sdk = new EC2Client({
      region: REGION,
      endpoint: moto.endpoint,
      credentials: moto.credentials,
      maxAttempts: 1,
    });
    const vpc = await sdk.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }));
    vpcId = vpc.Vpc!.VpcId!;
    const subnet = await sdk.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.20.1.0/24', AvailabilityZone: `${REGION}a` }),
    );
    subnetId = subnet.Subnet!.SubnetId!;
    const other = await sdk.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.20.2.0/24', AvailabilityZone: `${REGION}a` }),
    );
    otherSubnetId = other.Subnet!.SubnetId!;
    await sdk.send(
      new CreateTagsCommand({
        Resources: [otherSubnetId],
        Tags: [{ Key: 'kubernetes.io/role/cni', Value: '1' }],
      }),
    );
    const images = await sdk.send(new DescribeImagesCommand({}));
    const imageId = images.Images?.[0]?.ImageId;
    if (imageId === undefined) throw new Error('moto offers no AMI to launch an instance from');
    const run = await sdk.send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 'm5.large',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnetId,
      }),
    );
    instanceId = run.Instances![0]!.InstanceId!;
    // moto serves no per-instance IMDS: knowing only the instance id makes the provider take its
    // DescribeInstances fallback, which is a flow of its own worth running against moto.
    const metadata: MetadataSource = {
      get: (path) =>
        Promise.resolve(
          path === 'instance-id' ? instanceId : path === 'placement/region' ? REGION : undefined,
        ),
    };
    network = new AwsEc2Network({
      region: REGION,
      endpoint: moto.endpoint,
      credentials: moto.credentials,
      metadata,
      clusterName: 'e2e',
      retry: { maxAttempts: 3, baseMs: 50, capMs: 500 },
      visibilityTimeoutMs: 10_000,
    });
  });

  afterAll(async () => {
    await network?.close();
    sdk?.destroy();
    await moto?.stop();
  });

  it('reads the node identity through DescribeInstances, DescribeSubnets and DescribeVpcs', async () => {
    const identity = await network.identity();
    expect(identity).toMatchObject({
      instanceId,
      instanceType: 'm5.large',
      availabilityZone: `${REGION}a`,
      region: REGION,
      vpcId,
      subnetId,
      subnetCidr: '10.20.1.0/24',
      vpcCidrs: ['10.20.0.0/16'],
    });
    expect(identity.primaryEniId).toMatch(/^eni-/);
    expect(identity.primaryIp).toMatch(/^10\.20\.1\./);
  });

  it('discovers the node subnet and the subnet tagged kubernetes.io/role/cni', async () => {
    const subnets = await network.discoverSubnets(
      { vpcId, availabilityZone: `${REGION}a`, nodeSubnetId: subnetId },
      { refresh: true },
    );
    expect(subnets.map((s) => s.subnetId).sort()).toEqual([subnetId, otherSubnetId].sort());
    for (const s of subnets) expect(s.availableIpCount).toBeGreaterThan(0);
  });

  it('creates an ENI with its addresses and tags in one call, attaches it and lists it', async () => {
    const eni = await network.createAndAttachEni({
      instanceId,
      subnetId: otherSubnetId,
      securityGroupIds: [],
      secondaryIpCount: 3,
      prefixCount: 0,
    });
    expect(eni).toMatchObject({ subnetId: otherSubnetId, subnetCidr: '10.20.2.0/24', primary: false });
    expect(eni.deviceIndex).toBeGreaterThan(0);
    expect(eni.secondaryIps).toHaveLength(3);
    for (const ip of eni.secondaryIps) expect(ip).toMatch(/^10\.20\.2\./);
    expect(eni.tags).toMatchObject({
      'node.k8s.amazonaws.com/instance_id': instanceId,
      'cluster.k8s.amazonaws.com/name': 'e2e',
      'eni-ipam.io/managed': 'true',
    });
    // moto records the attachment EC2 would show.
    const described = await sdk.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni.eniId] }),
    );
    expect(described.NetworkInterfaces?.[0]?.Attachment).toMatchObject({
      InstanceId: instanceId,
      DeviceIndex: eni.deviceIndex,
    });

    const attached = await network.listAttachedEnis(instanceId);
    const listed = attached.find((e) => e.eniId === eni.eniId);
    expect(listed?.secondaryIps.sort()).toEqual([...eni.secondaryIps].sort());
    expect(attached.find((e) => e.primary)).toBeDefined();
  });

  it('assigns and unassigns secondary addresses on an attached ENI', async () => {
    const eni = (await network.listAttachedEnis(instanceId)).find((e) => !e.primary)!;
    const returned = await network.assignIps(eni.eniId, 2);
    let now = (await network.listAttachedEnis(instanceId)).find((e) => e.eniId === eni.eniId)!;
    // moto answers with every address of the ENI (EC2: only the new ones); the provider never hands
    // back the primary, and the ENI gained exactly the two addresses asked for.
    expect(returned).not.toContain(eni.primaryIp);
    for (const ip of returned) expect(now.secondaryIps).toContain(ip);
    const added = now.secondaryIps.filter((ip) => !eni.secondaryIps.includes(ip));
    expect(added).toHaveLength(2);

    await network.unassignIps(eni.eniId, [added[0]!]);
    now = (await network.listAttachedEnis(instanceId)).find((e) => e.eniId === eni.eniId)!;
    expect(now.secondaryIps).not.toContain(added[0]);
    expect(now.secondaryIps).toContain(added[1]);
  });

  it('detaches and deletes an ENI; deleting it again is not an error', async () => {
    const eni = (await network.listAttachedEnis(instanceId)).find((e) => !e.primary)!;
    await network.detachAndDeleteEni(eni.eniId);
    expect((await network.listAttachedEnis(instanceId)).map((e) => e.eniId)).not.toContain(eni.eniId);
    await expect(network.detachAndDeleteEni(eni.eniId)).resolves.toBeUndefined();
  });

  it('refuses to detach the primary ENI', async () => {
    const identity = await network.identity();
    await expect(network.detachAndDeleteEni(identity.primaryEniId)).rejects.toThrow(/primary ENI/);
  });
});
