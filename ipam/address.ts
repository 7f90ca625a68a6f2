/**
 * The one IPv4 address and CIDR module: the datastore, accounting, the CNI answers and the
 * simulated EC2 all use it. Addresses travel as canonical dotted-quad strings ("10.0.3.17"), the
 * only form EC2 emits; arithmetic happens on unsigned 32-bit numbers so that sorting and range
 * checks are exact. A single address is read by a strict parser of its own that accepts exactly
 * four decimal octets without leading zeros, so "10.0.3.017", "10.0.3" or "0x0a.0.0.1" are refused
 * rather than read as another address: ipaddr.js tries every legacy form first (~2.5 us a parse
 * against ~0.2 us here), and accounting parses every address on each scrape. CIDRs, parsed far
 * less often, go through ipaddr.js once their text has been checked to be canonical.
 */
import ipaddr from 'ipaddr.js';
import { AddressFormatError } from './errors.js';

/** A delegated prefix is always a /28 (ENABLE_PREFIX_DELEGATION). */
export const PREFIX_LENGTH = 28;
/** Addresses in one delegated prefix: 16. */
export const ADDRESSES_PER_PREFIX = 2 ** (32 - PREFIX_LENGTH);

/** Addresses one unit of the pool stands for: a /28 prefix in prefix mode, else one address. */
export function addressesPerUnit(prefixes: boolean): number {
  return prefixes ? ADDRESSES_PER_PREFIX : 1;
}

/** AWS reserves the network address, the next three (router, DNS, future use) and the last address. */
const RESERVED_AT_START = 4;
const RESERVED_AT_END = 1;

export interface Cidr {
  /** Canonical "a.b.c.d/n" with the host bits zero. */
  readonly text: string;
  /** The network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefixLength: number;
  /** Number of addresses in the block (2^(32-n)). */
  readonly size: number;
}

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const DOTTED_QUAD = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

export function isIpv4(text: string): boolean {
  return DOTTED_QUAD.test(text);
}

/** The address as an unsigned 32-bit number; throws AddressFormatError on anything but a.b.c.d. */
export function ipToNumber(text: string): number {
  const match = DOTTED_QUAD.exec(text);
  if (!match) throw new AddressFormatError(`"${text}" is not an IPv4 address (expected a.b.c.d)`);
  const [, a, b, c, d] = match;
  return ((Number(a) << 24) | (Number(b) << 16) | (Number(c) << 8) | Number(d)) >>> 0;
}

export function numberToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** The canonical spelling of an address ("010.0.0.1" is refused, not reinterpreted). */
export function canonicalIp(text: string): string {
  return numberToIp(ipToNumber(text));
}

/**
 * Parses "a.b.c.d/n". The host bits must be zero: EC2 always reports network addresses, so a CIDR
 * with host bits set is a bug upstream and must not be silently widened.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const lengthText = text.slice(slash + 1);
  if (slash < 0 || !/^\d{1,2}$/.test(lengthText)) {
    throw new AddressFormatError(`"${text}" is not an IPv4 CIDR (expected a.b.c.d/n)`);
  }
  const prefixLength = Number(lengthText);
  if (prefixLength > 32) throw new AddressFormatError(`"${text}": prefix length ${prefixLength} is over 32`);
  // Canonical dotted quad first: ipaddr.js alone would also read "10.1/16" or octal octets.
  ipToNumber(text.slice(0, slash));
  const [address] = ipaddr.IPv4.parseCIDR(text);
  const network = ipaddr.IPv4.networkAddressFromCIDR(text);
  if (network.toString() !== address.toString()) {
    throw new AddressFormatError(
      `"${text}" has host bits set (the network is ${network.toString()}/${prefixLength})`,
    );
  }
  const base = octetsToNumber(address.octets);
  return { text: `${numberToIp(base)}/${prefixLength}`, base, prefixLength, size: 2 ** (32 - prefixLength) };
}

function octetsToNumber(octets: readonly number[]): number {
  return octets.reduce((value, octet) => value * 256 + octet, 0);
}

/** "a.b.c.d/n" for a network address given as a number. */
export function formatCidr(base: number, prefixLength: number): string {
  return `${numberToIp(base)}/${prefixLength}`;
}

/** Whether the block `inner` lies wholly inside `outer`. */
export function cidrWithin(outer: Cidr, inner: Cidr): boolean {
  return inner.base >= outer.base && inner.base + inner.size <= outer.base + outer.size;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

/** Parses a delegated prefix; anything but a /28 is refused. */
export function parsePrefix(text: string): Cidr {
  const cidr = parseCidr(text);
  if (cidr.prefixLength !== PREFIX_LENGTH) {
    throw new AddressFormatError(`"${text}" is not a /${PREFIX_LENGTH} prefix`);
  }
  return cidr;
}

/** The addresses of a block, lowest first. Meant for /28 prefixes; refuses blocks over 65,536 addresses. */
export function cidrAddresses(cidr: Cidr): string[] {
  if (cidr.size > 65_536) throw new RangeError(`refusing to expand ${cidr.text} (${cidr.size} addresses)`);
  return Array.from({ length: cidr.size }, (_, i) => numberToIp(cidr.base + i));
}

export function cidrContains(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.base && ip < cidr.base + cidr.size;
}

/** Addresses of a subnet AWS lets you use: size minus the first four and the last (never negative). */
export function usableAddressCount(cidr: Cidr): number {
  return Math.max(0, cidr.size - RESERVED_AT_START - RESERVED_AT_END);
}

/** The lowest and highest address of a subnet AWS lets you use (the five it reserves excluded). */
export function usableRange(cidr: Cidr): { first: number; last: number } {
  return { first: cidr.base + RESERVED_AT_START, last: cidr.base + cidr.size - 1 - RESERVED_AT_END };
}

/** Whether `ip` is inside the subnet and not one of the five addresses AWS reserves. */
export function isUsableInSubnet(cidr: Cidr, ip: number): boolean {
  const { first, last } = usableRange(cidr);
  return ip >= first && ip <= last;
}

/** The VPC router of a subnet: its network address + 1. Pods use it as their gateway. */
export function subnetGateway(cidr: Cidr): string {
  return numberToIp(cidr.base + 1);
}

/** Sorts addresses (or CIDRs, by network address) numerically; each is parsed once, not per comparison. */
export function sortByAddress(
  texts: Iterable<string>,
  order: 'ascending' | 'descending' = 'ascending',
): string[] {
  const sign = order === 'ascending' ? 1 : -1;
  return [...texts]
    .map((text) => ({ text, num: text.includes('/') ? parseCidr(text).base : ipToNumber(text) }))
    .sort((a, b) => sign * (a.num - b.num))
    .map((entry) => entry.text);
}

/**
 * The addresses an entry names: a single address ("10.0.0.5") or every address of a CIDR
 * ("10.0.0.16/28"). Throws AddressFormatError (or RangeError for a block too large to expand).
 */
export function expandEntry(entry: string): string[] {
  return entry.includes('/') ? cidrAddresses(parseCidr(entry)) : [canonicalIp(entry)];
}
