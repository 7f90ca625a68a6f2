import { ADDRESSES_PER_PREFIX } from './address.js';
import { PrefixDelegationUnsupportedError } from './errors.js';
import type { InstanceLimits } from './instance-types.js';

/**
 * Pods that use the host's network (the agent itself and kube-proxy) need no address from the pool;
 * the EKS AMI's eni-max-pods.txt adds them to every figure.
 */
export const HOST_NETWORK_PODS = 2;

/**
 * EKS's recommended max pods with prefix delegation: beyond these the kubelet and the container
 * runtime, not addresses, are the limit (the EKS max-pods calculator applies the same caps).
 */
export const PREFIX_MAX_PODS_SMALL = 110;
export const PREFIX_MAX_PODS_LARGE = 250;
/** Instances with fewer vCPUs than this get the small cap. */
export const PREFIX_MAX_PODS_VCPU_THRESHOLD = 30;

export interface MaxPodsOptions {
  prefixDelegation?: boolean;
  /** The primary ENI carries no pod addresses (pods use ENIConfig subnets). */
  customNetworking?: boolean;
  /** MAX_ENI: lowers the instance's ENI count. */
  maxEni?: number;
}

export interface MaxPods {
  maxPods: number;
  /** ENIs the node may attach: the instance's limit, lowered by MAX_ENI. */
  enis: number;
  /** ENIs whose slots carry pod addresses (one fewer with custom networking). */
  podEnis: number;
  /** Secondary slots per ENI (IPv4 addresses per ENI, less the ENI's own primary address). */
  slotsPerEni: number;
  /** Pod addresses per ENI: one per slot, or 16 per slot with prefix delegation. */
  addressesPerEni: number;
  /** podEnis x addressesPerEni + host-network pods, before any cap. */
  uncapped: number;
  /** The EKS cap that applied with prefix delegation, if it lowered the figure. */
  cap: number | undefined;
  prefixDelegation: boolean;
  customNetworking: boolean;
}

/** Max pods as the EKS AMI computes it: ENIs x (IPv4 per ENI - 1) + 2, with the variants below. */
export function maxPods(limits: InstanceLimits, opts: MaxPodsOptions = {}): MaxPods {
  const prefixDelegation = opts.prefixDelegation ?? false;
  const customNetworking = opts.customNetworking ?? false;
  if (prefixDelegation && !limits.prefixDelegation) {
    throw new PrefixDelegationUnsupportedError(limits.instanceType);
  }
  if (opts.maxEni !== undefined && (!Number.isInteger(opts.maxEni) || opts.maxEni < 1)) {
    throw new RangeError(`maxEni must be a whole number >= 1, got ${opts.maxEni}`);
  }
  const enis = Math.min(limits.maxEnis, opts.maxEni ?? limits.maxEnis);
  const podEnis = Math.max(customNetworking ? enis - 1 : enis, 0);
  const slotsPerEni = Math.max(limits.ipv4PerEni - 1, 0);
  const addressesPerEni = prefixDelegation ? slotsPerEni * ADDRESSES_PER_PREFIX : slotsPerEni;
  const uncapped = podEnis * addressesPerEni + HOST_NETWORK_PODS;
  let cap: number | undefined;
  if (prefixDelegation) {
    const limit =
      limits.vcpus < PREFIX_MAX_PODS_VCPU_THRESHOLD ? PREFIX_MAX_PODS_SMALL : PREFIX_MAX_PODS_LARGE;
    if (uncapped > limit) cap = limit;
  }
  return {
    maxPods: cap ?? uncapped,
    enis,
    podEnis,
    slotsPerEni,
    addressesPerEni,
    uncapped,
    cap,
    prefixDelegation,
    customNetworking,
  };
}
