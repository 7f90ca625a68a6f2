import type { Filter, NetworkInterface } from '@aws-sdk/client-ec2';
import type { Clock } from '../time/clock.js';
import type { Ec2Client } from './ec2-client.js';
import type { LeakedEni } from './ec2-network.js';
import { required } from './ec2-shapes.js';
import {
  CLUSTER_NAME_TAG,
  CREATED_AT_TAG,
  INSTANCE_ID_TAG,
  MANAGED_TAG,
  MANAGED_TAG_VALUE,
  tagRecord,
} from './eni-tags.js';

const PAGE_SIZE = 1000;
/** DescribeInstances takes at most 200 values per filter. */
const INSTANCE_FILTER_CHUNK = 200;

/**
 * ENIs this project created that are attached to nothing, older than the grace period, and whose
 * instance is this one (a create whose compensation failed, or a crash between create and attach)
 * or no longer exists (a node that died without cleaning up). An ENI of another live instance is
 * that node's business. An ENI without a readable creation time is never judged leaked: we cannot
 * tell its age. With `createdBefore`, younger ENIs are not judged at all: at start-up, only what a
 * previous process left counts, and the ENIs other nodes of a cold start are creating at that moment
 * must not cost a DescribeInstances each time a node starts.
 */
export async function findLeakedEnis(
  deps: { client: Ec2Client; clock: Clock; clusterName: string | undefined },
  instanceId: string,
  graceMs: number,
  createdBefore = Infinity,
): Promise<LeakedEni[]> {
  const filters: Filter[] = [
    { Name: 'status', Values: ['available'] },
    { Name: `tag:${MANAGED_TAG}`, Values: [MANAGED_TAG_VALUE] },
    { Name: 'tag-key', Values: [INSTANCE_ID_TAG] },
  ];
  if (deps.clusterName !== undefined && deps.clusterName !== '') {
    filters.push({ Name: `tag:${CLUSTER_NAME_TAG}`, Values: [deps.clusterName] });
  }
  const enis: NetworkInterface[] = [];
  let nextToken: string | undefined;
  do {
    const page = await deps.client.describeNetworkInterfaces({
      Filters: filters,
      MaxResults: PAGE_SIZE,
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    });
    enis.push(...(page.NetworkInterfaces ?? []));
    nextToken = page.NextToken;
  } while (nextToken !== undefined && nextToken !== '');

  const now = deps.clock.now();
  const old = enis.flatMap((eni) => {
    const tags = tagRecord(eni.TagSet);
    const createdAt = Date.parse(tags[CREATED_AT_TAG] ?? '');
    if (Number.isNaN(createdAt) || now - createdAt < graceMs || createdAt >= createdBefore) return [];
    const leaked: LeakedEni = {
      eniId: required(eni.NetworkInterfaceId, 'NetworkInterfaceId', 'DescribeNetworkInterfaces'),
      subnetId: required(eni.SubnetId, 'SubnetId', 'DescribeNetworkInterfaces'),
      instanceId: tags[INSTANCE_ID_TAG],
      createdAt,
    };
    return [leaked];
  });
  const others = [
    ...new Set(
      old.flatMap((eni) =>
        eni.instanceId === undefined || eni.instanceId === instanceId ? [] : [eni.instanceId],
      ),
    ),
  ];
  const alive = await liveInstances(deps.client, others);
  return old.filter(
    (eni) => eni.instanceId === instanceId || eni.instanceId === undefined || !alive.has(eni.instanceId),
  );
}

/**
 * Which of these instances still exist. A filter (unlike InstanceIds) answers for the ids that exist
 * instead of failing the whole call with InvalidInstanceID.NotFound; a terminated instance lingers in
 * Describe for about an hour and counts as gone.
 */
async function liveInstances(client: Ec2Client, instanceIds: readonly string[]): Promise<Set<string>> {
  const alive = new Set<string>();
  for (let i = 0; i < instanceIds.length; i += INSTANCE_FILTER_CHUNK) {
    const chunk = instanceIds.slice(i, i + INSTANCE_FILTER_CHUNK);
    let nextToken: string | undefined;
    do {
      const page = await client.describeInstances({
        Filters: [{ Name: 'instance-id', Values: chunk }],
        MaxResults: PAGE_SIZE,
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      });
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          if (instance.InstanceId !== undefined && instance.State?.Name !== 'terminated')
            alive.add(instance.InstanceId);
        }
      }
      nextToken = page.NextToken;
    } while (nextToken !== undefined && nextToken !== '');
  }
  return alive;
}
