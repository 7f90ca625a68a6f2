import { lookupInstanceType, type InstanceLimits } from '../../ipam/instance-types.js';
import { Ec2WireError } from '../errors.js';
import type { SimInstance } from '../model.js';
import type { SimState } from '../state.js';

export function runningInstance(state: SimState, instanceId: string): SimInstance {
  const instance = state.currentInstance(instanceId);
  if (!instance)
    throw new Ec2WireError('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
  if (instance.state !== 'running') {
    throw new Ec2WireError(
      'IncorrectInstanceState',
      `The instance '${instanceId}' is not in a valid state for this operation.`,
    );
  }
  return instance;
}

export function limitsOf(instance: SimInstance): InstanceLimits {
  const limits = lookupInstanceType(instance.instanceType);
  // launchInstance accepts only known types, so this is a simulator bug, not an EC2 error.
  if (!limits)
    throw new Error(`simulated instance ${instance.instanceId} has unknown type ${instance.instanceType}`);
  return limits;
}

/**
 * The per-ENI address limit of the instance type: Ipv4AddressesPerInterface counts the primary, the
 * secondaries and each /28 prefix as one slot.
 */
export function checkAddressSlots(limits: InstanceLimits, eniId: string, slots: number): void {
  if (slots > limits.ipv4PerEni) {
    throw new Ec2WireError(
      'PrivateIpAddressLimitExceeded',
      `Number of private addresses will exceed limit. Interface ${eniId} on a ${limits.instanceType} can hold ${limits.ipv4PerEni}, ${slots} requested.`,
    );
  }
}

export function checkPrefixSupport(limits: InstanceLimits, prefixCount: number): void {
  if (prefixCount > 0 && !limits.prefixDelegation) {
    throw new Ec2WireError(
      'InvalidParameterValue',
      `Prefix delegation is not supported on instance type ${limits.instanceType} (not built on the Nitro System).`,
    );
  }
}
