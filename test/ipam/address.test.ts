import { AddressFormatError } from '../../ipam/errors.js';
import { describe, expect, it } from 'vitest';
import {
  canonicalIp,
  cidrAddresses,
  cidrContains,
  expandEntry,
  ipToNumber,
  isIpv4,
  isUsableInSubnet,
  numberToIp,
  parseCidr,
  parsePrefix,
  subnetGateway,
  usableAddressCount,
} from '../../ipam/address.js';

describe('ipToNumber / numberToIp', () => {
  it.each([
    ['0.0.0.0', 0],
    ['10.0.0.1', 0x0a000001],
    ['192.168.1.255', 0xc0a801ff],
    ['255.255.255.255', 0xffffffff],
  ])('%s <-> %d', (text, value) => {
    expect(ipToNumber(text)).toBe(value);
    expect(numberToIp(value)).toBe(text);
  });

  it.each([
    '10.0.0',
    '10.0.0.256',
    '256.0.0.1',
    '10.0.0.05',
    ' 10.0.0.1',
    '10.0.0.1.',
    'abc',
    '',
    '10.0.0.1/32',
    '::1',
    '0x0a.0.0.1',
  ])('refuses %j', (text) => {
    expect(() => ipToNumber(text)).toThrow(AddressFormatError);
  });

  it('isIpv4 says the same as the parser', () => {
    expect(isIpv4('10.0.0.1')).toBe(true);
    expect(isIpv4('10.0.0.01')).toBe(false);
  });

  it('canonicalIp keeps canonical text and rejects the rest', () => {
    expect(canonicalIp('10.1.2.3')).toBe('10.1.2.3');
    expect(() => canonicalIp('10.1.2')).toThrow(/not an IPv4 address/);
  });
});

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/24', 0x0a000000, 24, 256],
    ['10.0.3.16/28', 0x0a000310, 28, 16],
    ['10.0.0.7/32', 0x0a000007, 32, 1],
    ['0.0.0.0/0', 0, 0, 2 ** 32],
  ])('%s', (text, base, prefixLength, size) => {
    expect(parseCidr(text)).toEqual({ text, base, prefixLength, size });
  });

  it.each([
    ['10.0.0.0', /expected a\.b\.c\.d\/n/],
    ['10.0.0.0/', /expected a\.b\.c\.d\/n/],
    ['10.0.0.0/x', /expected a\.b\.c\.d\/n/],
    ['10.0.0.0/33', /over 32/],
    ['10.0.0.17/28', /host bits set \(the network is 10\.0\.0\.16\/28\)/],
    ['10.0.0/24', /not an IPv4 address/],
  ])('refuses %s', (text, message) => {
    expect(() => parseCidr(text)).toThrow(message);
  });

  it('parsePrefix accepts only /28', () => {
    expect(parsePrefix('10.0.0.32/28').text).toBe('10.0.0.32/28');
    expect(() => parsePrefix('10.0.0.0/27')).toThrow(/not a \/28 prefix/);
  });
});

describe('subnet arithmetic', () => {
  it.each([
    ['10.0.0.0/16', 65_531],
    ['10.0.0.0/24', 251],
    ['10.0.0.0/28', 11],
    ['10.0.0.0/30', 0],
    ['10.0.0.0/32', 0],
  ])('usableAddressCount(%s) = %d', (cidr, usable) => {
    expect(usableAddressCount(parseCidr(cidr))).toBe(usable);
  });

  it.each([
    ['10.0.0.0', false],
    ['10.0.0.3', false],
    ['10.0.0.4', true],
    ['10.0.0.254', true],
    ['10.0.0.255', false],
    ['10.0.1.10', false],
  ])('isUsableInSubnet(10.0.0.0/24, %s) = %s', (ip, usable) => {
    expect(isUsableInSubnet(parseCidr('10.0.0.0/24'), ipToNumber(ip))).toBe(usable);
  });

  it('cidrContains is inclusive of the block and nothing more', () => {
    const cidr = parseCidr('10.0.0.16/28');
    expect(cidrContains(cidr, ipToNumber('10.0.0.16'))).toBe(true);
    expect(cidrContains(cidr, ipToNumber('10.0.0.31'))).toBe(true);
    expect(cidrContains(cidr, ipToNumber('10.0.0.32'))).toBe(false);
    expect(cidrContains(cidr, ipToNumber('10.0.0.15'))).toBe(false);
  });

  it('the gateway is the VPC router, network + 1', () => {
    expect(subnetGateway(parseCidr('10.0.32.0/19'))).toBe('10.0.32.1');
  });

  it('expands a /28 into its 16 addresses, lowest first', () => {
    const addresses = cidrAddresses(parseCidr('10.0.3.16/28'));
    expect(addresses).toHaveLength(16);
    expect(addresses[0]).toBe('10.0.3.16');
    expect(addresses[15]).toBe('10.0.3.31');
  });

  it('refuses to expand huge blocks', () => {
    expect(() => cidrAddresses(parseCidr('10.0.0.0/8'))).toThrow(RangeError);
  });

  it('expandEntry handles single addresses and CIDRs', () => {
    expect(expandEntry('10.0.0.5')).toEqual(['10.0.0.5']);
    expect(expandEntry('10.0.0.4/30')).toEqual(['10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7']);
    expect(() => expandEntry('nope')).toThrow(AddressFormatError);
  });
});
