import { Ec2WireError, invalidParameterValue, missingParameter } from '../errors.js';
import { ipToNumber, parseCidr } from '../../ipam/address.js';
import { itemSet, leaf } from '../xml.js';
import type { ActionContext } from './action.js';
import { allocateAll } from './allocate.js';
import { checkAddressSlots, checkPrefixSupport, limitsOf } from './instance-limits.js';

/**
 * Secondary addresses (a count or `PrivateIpAddress.N`) or /28 prefixes (`Ipv4PrefixCount`) on an
 * ENI, all or nothing. On an attached ENI the instance type's per-ENI limit applies (primary,
 * secondaries and prefixes each take a slot) and prefixes need a Nitro type.
 */
export function assignPrivateIpAddresses({ state, params }: ActionContext): string {
  const eniId = params.require('NetworkInterfaceId');
  const ipCount = params.int('SecondaryPrivateIpAddressCount') ?? 0;
  const specificIps = params.list('PrivateIpAddress');
  const prefixCount = params.int('Ipv4PrefixCount') ?? 0;
  if (params.list('Ipv4Prefix').length > 0)
    throw invalidParameterValue('This simulator assigns prefixes by Ipv4PrefixCount only');
  if (ipCount < 0 || prefixCount < 0)
    throw invalidParameterValue('Address and prefix counts must not be negative');
  if (ipCount > 0 && specificIps.length > 0) {
    throw new Ec2WireError(
      'InvalidParameterCombination',
      'Specify either SecondaryPrivateIpAddressCount or PrivateIpAddress, not both',
    );
  }
  const addressesWanted = ipCount + specificIps.length;
  if (addressesWanted > 0 && prefixCount > 0) {
    throw new Ec2WireError(
      'InvalidParameterCombination',
      'You cannot assign IPv4 addresses and IPv4 prefixes in one request',
    );
  }
  if (addressesWanted === 0 && prefixCount === 0) missingParameterOf();
  const eni = state.mutableEni(eniId);
  const instance = eni.attachment && state.currentInstance(eni.attachment.instanceId);
  if (instance) {
    const limits = limitsOf(instance);
    checkPrefixSupport(limits, prefixCount);
    checkAddressSlots(
      limits,
      eniId,
      1 + eni.secondaryIps.length + eni.prefixes.length + addressesWanted + prefixCount,
    );
  }
  const allocated = allocateAll(state.addressesOf(eni.subnetId), eni.subnetId, {
    ipCount,
    specificIps,
    prefixCount,
  });
  state.putEni({
    ...eni,
    secondaryIps: [...eni.secondaryIps, ...allocated.ips],
    prefixes: [...eni.prefixes, ...allocated.prefixes],
  });
  state.updateSubnet(eni.subnetId);
  return (
    leaf('networkInterfaceId', eniId) +
    itemSet('assignedPrivateIpAddressesSet', allocated.ips, (ip) => leaf('privateIpAddress', ip)) +
    itemSet('assignedIpv4PrefixSet', allocated.prefixes, (prefix) => leaf('ipv4Prefix', prefix)) +
    leaf('return', true)
  );
}

function missingParameterOf(): never {
  throw missingParameter('SecondaryPrivateIpAddressCount, PrivateIpAddress or Ipv4PrefixCount');
}

/** Releases secondary addresses and prefixes; naming one the ENI does not hold fails the whole call. */
export function unassignPrivateIpAddresses({ state, params }: ActionContext): string {
  const eniId = params.require('NetworkInterfaceId');
  const ips = params.list('PrivateIpAddress');
  const prefixes = params.list('Ipv4Prefix');
  if (ips.length === 0 && prefixes.length === 0) throw missingParameter('PrivateIpAddress or Ipv4Prefix');
  const eni = state.mutableEni(eniId);
  for (const ip of ips) {
    if (ip === eni.primaryIp)
      throw invalidParameterValue(`The primary private IP address ${ip} cannot be unassigned.`);
    if (!eni.secondaryIps.includes(ip)) {
      throw invalidParameterValue(`Some of the specified addresses are not assigned to interface ${eniId}`);
    }
  }
  for (const prefix of prefixes) {
    if (!eni.prefixes.includes(prefix))
      throw invalidParameterValue(`Some of the specified prefixes are not assigned to interface ${eniId}`);
  }
  const addresses = state.addressesOf(eni.subnetId);
  const dropIps = new Set(ips);
  const dropPrefixes = new Set(prefixes);
  for (const ip of dropIps) addresses.release(ipToNumber(ip));
  for (const prefix of dropPrefixes) addresses.releasePrefix(parseCidr(prefix).base);
  state.putEni({
    ...eni,
    secondaryIps: eni.secondaryIps.filter((ip) => !dropIps.has(ip)),
    prefixes: eni.prefixes.filter((p) => !dropPrefixes.has(p)),
  });
  state.updateSubnet(eni.subnetId);
  return leaf('return', true);
}
