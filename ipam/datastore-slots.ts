import { AddressFormatError } from './errors.js';
import {
  canonicalIp,
  cidrAddresses,
  cidrContains,
  ipToNumber,
  isUsableInSubnet,
  parsePrefix,
  type Cidr,
} from './address.js';
import type {
  AddAddressesResult,
  AddressRefusal,
  AddressState,
  Assignment,
  EniInfo,
} from './datastore-types.js';

/**
 * The datastore's internal records and the checks an address passes before it joins an ENI. Kept
 * apart from datastore.ts so that the class reads as its operations.
 */

/** One address the node holds. Only the datastore mutates `state`. */
export interface Slot {
  readonly address: string;
  /** The address as an unsigned 32-bit number, for ordering. */
  readonly num: number;
  readonly eniId: string;
  /** The /28 it came from, or undefined for a secondary /32. */
  readonly prefix: string | undefined;
  state: AddressState;
}

/** Addresses assigned and cooling, kept as states change so that reading them costs nothing. */
export interface InUseCounts {
  assigned: number;
  cooling: number;
}

export interface EniEntry {
  readonly info: EniInfo;
  readonly cidr: Cidr;
  /** Secondary /32 addresses (canonical). */
  readonly ips: Set<string>;
  /** Delegated /28s (canonical CIDR) -> their 16 addresses. */
  readonly prefixes: Map<string, readonly string[]>;
  /** Of this ENI's addresses. */
  readonly inUse: InUseCounts;
}

export type Refused = AddAddressesResult['refused'][number];

export const AVAILABLE: AddressState = Object.freeze({ type: 'available' });

export function newSlot(address: string, eniId: string, prefix: string | undefined): Slot {
  return { address, num: ipToNumber(address), eniId, prefix, state: AVAILABLE };
}

export function toAssignment(slot: Slot, eni: EniEntry): Assignment | undefined {
  const state = slot.state;
  if (state.type !== 'assigned') return undefined;
  return {
    key: state.key,
    pod: state.pod,
    ...(state.owner ? { owner: state.owner } : {}),
    ...(state.network === undefined ? {} : { network: state.network }),
    assignedAt: state.assignedAt,
    address: slot.address,
    eniId: eni.info.id,
    subnetId: eni.info.subnetId,
  };
}

/** The canonical address, or a refusal saying why it cannot join this ENI. */
export function checkIp(entry: EniEntry, raw: string, slots: ReadonlyMap<string, Slot>): string | Refused {
  const ip = tryCanonicalIp(raw);
  if (ip === undefined) return { entry: raw, reason: 'invalid', detail: 'not an IPv4 address' };
  const problem = addressProblem(entry, ip, slots);
  return problem ? { entry: raw, ...problem } : ip;
}

/** The canonical /28 and its addresses, or a refusal: a prefix joins whole or not at all. */
export function checkPrefix(
  entry: EniEntry,
  raw: string,
  slots: ReadonlyMap<string, Slot>,
): { prefix: string; addresses: string[] } | Refused {
  let cidr: Cidr;
  try {
    cidr = parsePrefix(raw);
  } catch (error) {
    if (!(error instanceof AddressFormatError)) throw error;
    return { entry: raw, reason: 'invalid', detail: error.message };
  }
  const addresses = cidrAddresses(cidr);
  for (const address of addresses) {
    const problem = addressProblem(entry, address, slots);
    if (problem) return { entry: raw, reason: problem.reason, detail: `${address}: ${problem.detail}` };
  }
  return { prefix: cidr.text, addresses };
}

function addressProblem(
  entry: EniEntry,
  ip: string,
  slots: ReadonlyMap<string, Slot>,
): { reason: AddressRefusal; detail: string } | undefined {
  const num = ipToNumber(ip);
  if (!cidrContains(entry.cidr, num))
    return { reason: 'outside-subnet', detail: `not in ${entry.cidr.text}` };
  // EC2 never hands these out; one showing up means a bug, and handing the router's address to a pod would be worse.
  if (!isUsableInSubnet(entry.cidr, num))
    return { reason: 'reserved-by-aws', detail: `AWS reserves it in ${entry.cidr.text}` };
  const holder = slots.get(ip);
  if (!holder) return undefined;
  if (holder.eniId !== entry.info.id) return { reason: 'held-by-another-eni', detail: `on ${holder.eniId}` };
  return {
    reason: 'already-present',
    detail: holder.prefix ? `inside ${holder.prefix}` : 'already a secondary IP',
  };
}

export function tryCanonicalIp(text: string): string | undefined {
  try {
    return canonicalIp(text);
  } catch {
    return undefined;
  }
}

export function tryCanonicalPrefix(text: string): string | undefined {
  try {
    return parsePrefix(text).text;
  } catch {
    return undefined;
  }
}

/** Canonical spellings of `entries`; the unreadable ones are pushed to `refused`. */
export function canonicalSet(
  entries: readonly string[],
  canonical: (text: string) => string | undefined,
  refused: Refused[],
): Set<string> {
  const out = new Set<string>();
  for (const raw of entries) {
    const value = canonical(raw);
    if (value === undefined) refused.push({ entry: raw, reason: 'invalid', detail: 'malformed' });
    else out.add(value);
  }
  return out;
}
