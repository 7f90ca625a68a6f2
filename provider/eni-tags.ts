import type { Tag } from '@aws-sdk/client-ec2';

/**
 * Tag keys on the ENIs eni-ipam creates. The first two are the AWS VPC CNI's own keys, so that
 * ENIs leaked by either project are recognised by both; the managed tag says which project made it.
 */
export const INSTANCE_ID_TAG = 'node.k8s.amazonaws.com/instance_id';
export const CREATED_AT_TAG = 'node.k8s.amazonaws.com/createdAt';
export const CLUSTER_NAME_TAG = 'cluster.k8s.amazonaws.com/name';
export const MANAGED_TAG = 'eni-ipam.io/managed';
export const MANAGED_TAG_VALUE = 'true';

/** Subnet tags that steer discovery (the VPC CNI's conventions). */
export const SUBNET_ROLE_TAG = 'kubernetes.io/role/cni';
export const SUBNET_CLUSTER_TAG_PREFIX = 'cni.networking.k8s.aws/cluster/';

/** Our own keys win over extra tags with the same key: leaked-ENI discovery depends on them. */
export function eniTags(
  instanceId: string,
  createdAtMs: number,
  clusterName: string | undefined,
  extraTags: Readonly<Record<string, string>>,
): Tag[] {
  const tags = new Map<string, string>(Object.entries(extraTags));
  tags.set(INSTANCE_ID_TAG, instanceId);
  tags.set(CREATED_AT_TAG, new Date(createdAtMs).toISOString());
  if (clusterName !== undefined && clusterName !== '') tags.set(CLUSTER_NAME_TAG, clusterName);
  tags.set(MANAGED_TAG, MANAGED_TAG_VALUE);
  return [...tags].map(([Key, Value]) => ({ Key, Value }));
}

export function tagRecord(tags: readonly Tag[] | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  for (const tag of tags ?? []) {
    if (tag.Key !== undefined) record[tag.Key] = tag.Value ?? '';
  }
  return record;
}
