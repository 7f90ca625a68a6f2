import { INSTANCE_TYPE_ROWS } from './instance-types.generated.js';

export type Hypervisor = 'nitro' | 'xen' | 'none';

/** What EC2's DescribeInstanceTypes says about one instance type's networking. */
export interface InstanceLimits {
  instanceType: string;
  vcpus: number;
  /** MaximumNetworkInterfaces of the default network card: what max pods is computed from. */
  maxEnis: number;
  /** Ipv4AddressesPerInterface, the ENI's primary address included. */
  ipv4PerEni: number;
  hypervisor: Hypervisor;
  bareMetal: boolean;
  /** /28 prefix delegation needs the Nitro system (bare metal instances are Nitro too). */
  prefixDelegation: boolean;
}

const byName = new Map<string, InstanceLimits>(
  INSTANCE_TYPE_ROWS.map(([instanceType, vcpus, maxEnis, ipv4PerEni, hypervisor, bareMetal]) => [
    instanceType,
    Object.freeze({
      instanceType,
      vcpus,
      maxEnis,
      ipv4PerEni,
      hypervisor,
      bareMetal,
      prefixDelegation: hypervisor === 'nitro' || bareMetal,
    }),
  ]),
);

/** Limits from the bundled table (all instance types EC2 listed when it was generated). */
export function lookupInstanceType(instanceType: string): InstanceLimits | undefined {
  return byName.get(instanceType);
}

export function knownInstanceTypes(): string[] {
  return [...byName.keys()];
}
