import type { InstanceTypeInfo } from '@aws-sdk/client-ec2';
import { lookupInstanceType, type Hypervisor, type InstanceLimits } from '../ipam/instance-types.js';
import type { Ec2Client } from './ec2-client.js';
import { required } from './ec2-shapes.js';

/** Translates DescribeInstanceTypes' NetworkInfo into the planner's limits. */
export function toInstanceLimits(info: InstanceTypeInfo): InstanceLimits {
  const action = 'DescribeInstanceTypes';
  const instanceType = required(info.InstanceType, 'InstanceType', action);
  const network = required(info.NetworkInfo, 'NetworkInfo', action);
  // Max pods is computed from the default network card: ENIs on other cards are not for pods.
  const defaultCard = network.NetworkCards?.find(
    (card) => card.NetworkCardIndex === (network.DefaultNetworkCardIndex ?? 0),
  );
  const maxEnis = required(
    defaultCard?.MaximumNetworkInterfaces ?? network.MaximumNetworkInterfaces,
    'MaximumNetworkInterfaces',
    action,
  );
  const bareMetal = info.BareMetal === true;
  const hypervisor: Hypervisor =
    info.Hypervisor === 'nitro' ? 'nitro' : info.Hypervisor === 'xen' ? 'xen' : 'none';
  return {
    instanceType,
    vcpus: required(info.VCpuInfo?.DefaultVCpus, 'VCpuInfo.DefaultVCpus', action),
    maxEnis,
    ipv4PerEni: required(network.Ipv4AddressesPerInterface, 'Ipv4AddressesPerInterface', action),
    hypervisor,
    bareMetal,
    prefixDelegation: hypervisor === 'nitro' || bareMetal,
  };
}

/**
 * Instance-type limits. The table bundled in ipam/ answers for every type it lists (limits of a type
 * never change, and hundreds of nodes starting together would otherwise each spend a call of the
 * account's DescribeInstanceTypes bucket); EC2 is asked, once per type for the life of the process,
 * only for a type the table lacks (one newer than the build).
 */
export class InstanceLimitsCatalog {
  private readonly cache = new Map<string, Promise<InstanceLimits>>();

  constructor(private readonly client: Ec2Client) {}

  get(instanceType: string): Promise<InstanceLimits> {
    const bundled = lookupInstanceType(instanceType);
    if (bundled) return Promise.resolve(bundled);
    let pending = this.cache.get(instanceType);
    if (!pending) {
      pending = this.fetch(instanceType);
      this.cache.set(instanceType, pending);
      // A failure is not cached: the next call asks again.
      pending.catch(() => this.cache.delete(instanceType));
    }
    return pending;
  }

  private async fetch(instanceType: string): Promise<InstanceLimits> {
    const out = await this.client.describeInstanceTypes({ InstanceTypes: [instanceType as never] });
    const info = out.InstanceTypes?.find((t) => t.InstanceType === instanceType);
    if (info) return toInstanceLimits(info);
    throw new Error(`instance type ${instanceType} is unknown to EC2 and to the bundled table`);
  }
}
