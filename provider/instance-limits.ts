import type { InstanceTypeInfo } from '@aws-sdk/client-ec2';
import { lookupInstanceType, type Hypervisor, type InstanceLimits } from '../ipam/instance-types.js';
import { isEc2Error } from './aws-errors.js';
import type { Ec2Client } from './ec2-client.js';
import { required } from './ec2-shapes.js';

/** Translates DescribeInstanceTypes' NetworkInfo into the planner's limits. */
export function toInstanceLimits(info: InstanceTypeInfo): InstanceLimits {
  const action = 'DescribeInstanceTypes';
  const instanceType = required(info.InstanceType, 'InstanceType', action);
  const network = required(info.NetworkInfo, 'NetworkInfo', action);
  // Max pods is computed from the default network card: ENIs on other cards are not for pods.
  const defaultCard = network.NetworkCards?.find((card) => card.NetworkCardIndex === (network.DefaultNetworkCardIndex ?? 0));
  const maxEnis = required(defaultCard?.MaximumNetworkInterfaces ?? network.MaximumNetworkInterfaces, 'MaximumNetworkInterfaces', action);
  const bareMetal = info.BareMetal === true;
  const hypervisor: Hypervisor = info.Hypervisor === 'nitro' ? 'nitro' : info.Hypervisor === 'xen' ? 'xen' : 'none';
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
 * Instance-type limits, asked of EC2 once per type (they never change for a type) and kept for the
 * life of the process. When the call is denied (an IAM policy without DescribeInstanceTypes), the
 * table bundled in ipam/ answers instead, so a missing permission does not stop the node.
 */
export class InstanceLimitsCatalog {
  private readonly cache = new Map<string, Promise<InstanceLimits>>();

  constructor(private readonly client: Ec2Client) {}

  get(instanceType: string): Promise<InstanceLimits> {
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
    try {
      const out = await this.client.describeInstanceTypes({ InstanceTypes: [instanceType as never] });
      const info = out.InstanceTypes?.find((t) => t.InstanceType === instanceType);
      if (info) return toInstanceLimits(info);
    } catch (err) {
      if (!isEc2Error(err) || err.kind !== 'permanent') throw err;
      const bundled = lookupInstanceType(instanceType);
      if (bundled) return bundled;
      throw err;
    }
    const bundled = lookupInstanceType(instanceType);
    if (bundled) return bundled;
    throw new Error(`instance type ${instanceType} is unknown to EC2 and to the bundled table`);
  }
}
