/**
 * Which subnet and which named address pool a pod may draw from, from its annotations and its
 * namespace's. A pool belongs to exactly one subnet, so a pool constraint always carries its subnet:
 * the datastore can then never hand a pod pinned to one subnet an address from another subnet's
 * pool (the Kube-OVN failure this guards against).
 */

import type { PodRef } from './datastore-types.js';
import { PoolSubnetMismatchError, UnknownPoolError } from './errors.js';
import type { Placement } from './placement.js';

export const SUBNET_ANNOTATION = 'eni-ipam.io/subnet';
export const POOL_ANNOTATION = 'eni-ipam.io/pool';
const ANNOTATIONS = { pool: POOL_ANNOTATION, subnet: SUBNET_ANNOTATION } as const;

/** A named pool of addresses on one subnet (declared in ENI_IPAM_POOLS, parsed by agent/config-schema.ts). */
export interface AddressPool {
  readonly name: string;
  readonly subnetId: string;
}

/** The pod as placement needs it: who it is (for messages) and its annotations. */
export type AnnotatedPod = Pick<PodRef, 'namespace' | 'name'> & {
  readonly annotations?: Readonly<Record<string, string>> | undefined;
};

export interface NamespaceRef {
  annotations?: Readonly<Record<string, string>> | undefined;
}

function annotation(
  annotations: Readonly<Record<string, string>> | undefined,
  key: string,
): string | undefined {
  const value = annotations?.[key]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The pod's own annotations win over its namespace's, key by key; a namespace default that
 * contradicts what the pod itself asked for gives way to it. A contradiction at the same level
 * (the pod names a pool of another subnet than the subnet it names) is a PoolSubnetMismatchError,
 * an undeclared pool an UnknownPoolError.
 */
export function resolvePlacement(
  pod: AnnotatedPod,
  namespace: NamespaceRef | undefined,
  pools: readonly AddressPool[],
): Placement {
  const podName = `${pod.namespace}/${pod.name}`;
  const podSubnet = annotation(pod.annotations, SUBNET_ANNOTATION);
  const podPool = annotation(pod.annotations, POOL_ANNOTATION);
  const nsSubnet = annotation(namespace?.annotations, SUBNET_ANNOTATION);
  const nsPool = annotation(namespace?.annotations, POOL_ANNOTATION);

  const lookup = (name: string): AddressPool => {
    const found = pools.find((p) => p.name === name);
    if (found === undefined)
      throw new UnknownPoolError(
        podName,
        name,
        pools.map((p) => p.name),
      );
    return found;
  };

  if (podPool !== undefined) {
    const pool = lookup(podPool);
    if (podSubnet !== undefined && podSubnet !== pool.subnetId) {
      throw new PoolSubnetMismatchError(podName, pool.name, pool.subnetId, podSubnet, 'pod', ANNOTATIONS);
    }
    return { subnetId: pool.subnetId, pool: pool.name };
  }
  if (podSubnet !== undefined) {
    // The namespace's default pool applies only when it lives in the subnet the pod asked for.
    if (nsPool !== undefined) {
      const pool = lookup(nsPool);
      if (pool.subnetId === podSubnet) return { subnetId: podSubnet, pool: pool.name };
    }
    return { subnetId: podSubnet };
  }
  if (nsPool !== undefined) {
    const pool = lookup(nsPool);
    if (nsSubnet !== undefined && nsSubnet !== pool.subnetId) {
      throw new PoolSubnetMismatchError(
        podName,
        pool.name,
        pool.subnetId,
        nsSubnet,
        'namespace',
        ANNOTATIONS,
      );
    }
    return { subnetId: pool.subnetId, pool: pool.name };
  }
  return nsSubnet === undefined ? {} : { subnetId: nsSubnet };
}
