import {
  AssignPrivateIpAddressesCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
} from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, test } from 'vitest';
import { SimulatedCloud } from '../../sim/cloud.js';
import type { SimConfigInput } from '../../sim/config.js';
import { Ec2HttpServer } from '../../sim/http-server.js';
import { ImdsHttpServer } from '../../sim/imds-http.js';
import { systemClock } from '../../time/clock.js';
import { failure, httpClient } from './helpers.js';
import { SUBNET_A } from './world.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** The simulated EC2 on loopback in real time, with latencies of a millisecond. */
async function httpWorld(config: SimConfigInput = {}) {
  const cloud = new SimulatedCloud(
    { subnets: [SUBNET_A], latencyMs: { default: 1 }, throttling: 'none', ...config },
    systemClock,
  );
  const server = new Ec2HttpServer(cloud.endpoint);
  const url = await server.start();
  closers.push(() => server.close());
  return { cloud, url, ec2: httpClient(url) };
}

describe('EC2 over HTTP', () => {
  test('the SDK creates, attaches, assigns and describes through the wire format', async () => {
    const { cloud, ec2 } = await httpWorld();
    const node = cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const created = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: 'subnet-a',
        Groups: ['sg-1', 'sg-2'],
        SecondaryPrivateIpAddressCount: 3,
        Description: 'eni-ipam <pods> & "more"',
        TagSpecifications: [
          {
            ResourceType: 'network-interface',
            Tags: [{ Key: 'node.k8s.amazonaws.com/instance_id', Value: node.instanceId }],
          },
        ],
      }),
    );
    const eni = created.NetworkInterface;
    expect(eni?.Groups?.map((g) => g.GroupId)).toEqual(['sg-1', 'sg-2']);
    expect(eni?.Description).toBe('eni-ipam <pods> & "more"');
    expect(eni?.PrivateIpAddresses?.filter((a) => a.Primary)).toHaveLength(1);
    const attached = await ec2.send(
      new AttachNetworkInterfaceCommand({
        InstanceId: node.instanceId,
        NetworkInterfaceId: eni?.NetworkInterfaceId,
        DeviceIndex: 1,
      }),
    );
    expect(attached.AttachmentId).toMatch(/^eni-attach-/);
    const assigned = await ec2.send(
      new AssignPrivateIpAddressesCommand({
        NetworkInterfaceId: eni?.NetworkInterfaceId,
        SecondaryPrivateIpAddressCount: 6,
      }),
    );
    expect(assigned.AssignedPrivateIpAddresses).toHaveLength(6);
    const over = await failure(
      ec2.send(
        new AssignPrivateIpAddressesCommand({
          NetworkInterfaceId: eni?.NetworkInterfaceId,
          SecondaryPrivateIpAddressCount: 1,
        }),
      ),
    );
    expect(over).toMatchObject({ name: 'PrivateIpAddressLimitExceeded', status: 400 });

    const listed = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: [node.instanceId] }],
      }),
    );
    const byIndex = listed.NetworkInterfaces?.sort(
      (a, b) => (a.Attachment?.DeviceIndex ?? 0) - (b.Attachment?.DeviceIndex ?? 0),
    );
    expect(byIndex?.map((e) => e.Attachment?.DeviceIndex)).toEqual([0, 1]);
    expect(byIndex?.[1]?.PrivateIpAddresses).toHaveLength(10);
    expect(byIndex?.[1]?.TagSet).toEqual([
      { Key: 'node.k8s.amazonaws.com/instance_id', Value: node.instanceId },
    ]);
    const instances = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [node.instanceId] }));
    expect(instances.Reservations?.[0]?.Instances?.[0]?.NetworkInterfaces).toHaveLength(2);
    const subnets = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-a'] }));
    expect(subnets.Subnets?.[0]?.AvailableIpAddressCount).toBe(251 - 1 - 10);
  });

  test('errors carry EC2 codes, HTTP statuses and request ids', async () => {
    const { ec2 } = await httpWorld({ throttling: 'aws' });
    const notFound = await failure(
      ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-0123456789abcdef0'] })),
    );
    expect(notFound).toMatchObject({ name: 'InvalidNetworkInterfaceID.NotFound', status: 400 });
    expect(notFound.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // A burst of 70 unfiltered calls in real time: the bucket of 50 (+10/s refill) lets ~50 through.
    const results = await Promise.allSettled(
      Array.from({ length: 70 }, () => ec2.send(new DescribeInstancesCommand({}))),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    expect(ok).toBeGreaterThanOrEqual(50);
    expect(ok).toBeLessThan(60);
    const refused = results.flatMap((r) =>
      r.status === 'rejected' ? [r.reason as { name: string; $metadata: { httpStatusCode?: number } }] : [],
    );
    expect(refused.length).toBe(70 - ok);
    for (const e of refused)
      expect([e.name, e.$metadata.httpStatusCode]).toEqual(['RequestLimitExceeded', 503]);
  });

  test('raw Query API: unknown action is InvalidAction (400) with an XML error body', async () => {
    const { url } = await httpWorld();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=RunInstances&Version=2016-11-15',
    });
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toMatch(
      /<Response><Errors><Error><Code>InvalidAction<\/Code><Message>.+<\/Message><\/Error><\/Errors><RequestID>.+<\/RequestID><\/Response>/,
    );
  });

  test('a timed-out request gets its connection dropped', async () => {
    const { ec2 } = await httpWorld({ faults: { timeoutRate: 1, timeoutMs: 20, timeoutAppliedRate: 0 } });
    const err = await failure(ec2.send(new DescribeInstancesCommand({})));
    expect(err.message).toMatch(/socket hang up|ECONNRESET/);
  });
});

describe('IMDSv2 over HTTP', () => {
  async function imdsWorld() {
    const cloud = new SimulatedCloud({ subnets: [SUBNET_A] }, systemClock);
    const imds = new ImdsHttpServer(cloud.stateForImds(), { defaultInstanceId: 'i-00000000000000001' });
    await imds.start();
    closers.push(() => imds.close());
    return { cloud, imds };
  }

  async function token(base: string, ttl = '60'): Promise<Response> {
    return fetch(`${base}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': ttl },
    });
  }

  test('a token is required, bound to its instance, and its TTL must be 1..21600', async () => {
    const { cloud, imds } = await imdsWorld();
    const a = cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const b = cloud.launchInstance({ instanceType: 't3.micro', subnetId: 'subnet-a' });
    const baseA = imds.endpointFor(a.instanceId);
    expect((await fetch(`${baseA}/latest/meta-data/instance-id`)).status).toBe(401);
    expect((await token(baseA, '0')).status).toBe(400);
    expect((await token(baseA, '21601')).status).toBe(400);
    expect((await fetch(`${baseA}/latest/api/token`, { method: 'PUT' })).status).toBe(400);
    const res = await token(baseA);
    expect(res.status).toBe(200);
    const value = await res.text();
    const get = (base: string, path: string) =>
      fetch(`${base}/latest/meta-data/${path}`, { headers: { 'X-aws-ec2-metadata-token': value } });
    const id = await get(baseA, 'instance-id');
    expect(id.status).toBe(200);
    expect(await id.text()).toBe(a.instanceId);
    expect(await (await get(baseA, 'instance-type')).text()).toBe('m5.large');
    const mac = await (await get(baseA, 'mac')).text();
    expect(await (await get(baseA, 'network/interfaces/macs/')).text()).toBe(`${mac}/`);
    expect(await (await get(baseA, `network/interfaces/macs/${mac}/interface-id`)).text()).toBe(
      a.primaryEniId,
    );
    expect((await get(baseA, 'no-such-key')).status).toBe(404);
    // A token issued to instance A does not open instance B's metadata.
    expect((await get(imds.endpointFor(b.instanceId), 'instance-id')).status).toBe(401);
    // Unprefixed paths serve the default instance (the first one launched here is A).
    expect(a.instanceId).toBe('i-00000000000000001');
    expect(await (await get(imds.url, 'instance-id')).text()).toBe(a.instanceId);
  });
});
