import type { SubnetAddresses } from '../address-allocator.js';
import { Ec2WireError } from '../errors.js';
import { ipToNumber, numberToIp, parseCidr } from '../../ipam/address.js';

export interface AllocationRequest {
  /** 'any' for a new primary address, a number for a chosen one, undefined for none. */
  primary?: 'any' | number;
  ipCount: number;
  specificIps?: readonly string[];
  prefixCount: number;
}

export interface Allocation {
  primary: string | undefined;
  ips: string[];
  prefixes: string[];
}

/**
 * Takes every requested address from the subnet or none: on any shortage the addresses taken so far
 * go back, so a failed call leaves the subnet's free count unchanged, as in EC2.
 */
export function allocateAll(
  addresses: SubnetAddresses,
  subnetId: string,
  request: AllocationRequest,
): Allocation {
  const taken: number[] = [];
  const prefixBases: number[] = [];
  const rollback = (): void => {
    for (const ip of taken) addresses.release(ip);
    for (const base of prefixBases) addresses.releasePrefix(base);
  };
  try {
    let primary: string | undefined;
    if (request.primary === 'any') primary = takeAny(addresses, subnetId, taken);
    else if (typeof request.primary === 'number')
      primary = takeSpecific(addresses, numberToIp(request.primary), taken);
    const ips: string[] = [];
    for (const ip of request.specificIps ?? []) ips.push(takeSpecific(addresses, ip, taken));
    for (let i = 0; i < request.ipCount; i++) ips.push(takeAny(addresses, subnetId, taken));
    const prefixes: string[] = [];
    for (let i = 0; i < request.prefixCount; i++) {
      const prefix = addresses.allocatePrefix();
      if (prefix === undefined) {
        throw new Ec2WireError(
          'InsufficientCidrBlocks',
          `The specified subnet ${subnetId} does not have enough free cidr blocks to satisfy the request.`,
        );
      }
      prefixBases.push(parseCidr(prefix).base);
      prefixes.push(prefix);
    }
    return { primary, ips, prefixes };
  } catch (err) {
    rollback();
    throw err;
  }
}

function takeAny(addresses: SubnetAddresses, subnetId: string, taken: number[]): string {
  const ip = addresses.allocateIp();
  if (ip === undefined) {
    throw new Ec2WireError(
      'InsufficientFreeAddressesInSubnet',
      `The specified subnet ${subnetId} does not have enough free addresses to satisfy the request.`,
    );
  }
  taken.push(ipToNumber(ip));
  return ip;
}

function takeSpecific(addresses: SubnetAddresses, ip: string, taken: number[]): string {
  let n: number;
  try {
    n = ipToNumber(ip);
  } catch {
    throw new Ec2WireError('InvalidParameterValue', `Invalid IPv4 address ${ip}`);
  }
  if (!addresses.isUsable(n)) {
    throw new Ec2WireError(
      'InvalidParameterValue',
      `Address ${ip} is not in the subnet's usable range (or is reserved by AWS)`,
    );
  }
  if (!addresses.allocateSpecific(n))
    throw new Ec2WireError('InvalidIPAddress.InUse', `Address ${ip} is in use.`);
  taken.push(n);
  return ip;
}
