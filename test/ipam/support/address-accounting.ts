/**
 * Address accounting as an independent oracle for the datastore's property tests: every count is
 * the size of a set of distinct addresses, never a sum of records. Two records of the same address
 * count once, and an address AWS would never hand out (outside the subnet, or one of its five
 * reserved addresses) is flagged, not counted, so no count can exceed what the subnet holds.
 */
import {
  cidrContains,
  ipToNumber,
  isUsableInSubnet,
  numberToIp,
  parseCidr,
  usableAddressCount,
  type Cidr,
} from '../../../ipam/address.js';
import type { AddressState, EniInfo } from '../../../ipam/datastore-types.js';

export interface Counts {
  readonly total: number;
  readonly assigned: number;
  readonly cooling: number;
  /** Assignable: neither assigned nor cooling down (cooling addresses are not free, unlike the AWS VPC CNI). */
  readonly free: number;
}

/** An address record from any source: the datastore's AddressRecord fits, so does a hand-built one. */
export interface AccountedAddress {
  readonly address: string;
  readonly eniId: string;
  readonly state: Pick<AddressState, 'type'>;
}

export type AccountingEni = Pick<EniInfo, 'id' | 'subnetId' | 'subnetCidr' | 'pool'>;

export type AnomalyReason =
  'unknown-eni' | 'outside-subnet' | 'reserved-by-aws' | 'on-several-enis' | 'invalid';

export interface Anomaly {
  readonly address: string;
  readonly eniId: string;
  readonly reason: AnomalyReason;
}

export interface AddressAccounting {
  readonly node: Counts;
  readonly byEni: readonly ({ readonly eniId: string } & Counts)[];
  /** `usable` is the subnet's size minus AWS's five reserved addresses: `total` never exceeds it. */
  readonly bySubnet: readonly ({
    readonly subnetId: string;
    readonly cidr: string;
    readonly usable: number;
  } & Counts)[];
  /** Named pools only. */
  readonly byPool: readonly ({ readonly pool: string } & Counts)[];
  readonly anomalies: readonly Anomaly[];
}

type StateType = AddressState['type'];

/** In-use beats cooling beats available when two records of one address disagree: never overstate free. */
const PRECEDENCE: Record<StateType, number> = { available: 0, cooling: 1, assigned: 2 };

/** Counts addresses per ENI, subnet and pool. ENIs listed in `enis` appear even with no address. */
export function accountAddresses(
  enis: readonly AccountingEni[],
  records: readonly AccountedAddress[],
): AddressAccounting {
  const eniById = new Map<string, { eni: AccountingEni; cidr: Cidr }>();
  for (const eni of enis) eniById.set(eni.id, { eni, cidr: parseCidr(eni.subnetCidr) });

  const anomalies: Anomaly[] = [];
  // address -> the ENI it is counted on and its strongest state
  const counted = new Map<string, { eniId: string; state: StateType }>();
  for (const record of records) {
    const placed = placeRecord(record, eniById, anomalies);
    if (!placed) continue;
    const previous = counted.get(placed.address);
    if (!previous) {
      counted.set(placed.address, { eniId: record.eniId, state: record.state.type });
      continue;
    }
    if (previous.eniId !== record.eniId) {
      anomalies.push({ address: placed.address, eniId: record.eniId, reason: 'on-several-enis' });
    }
    if (PRECEDENCE[record.state.type] > PRECEDENCE[previous.state]) previous.state = record.state.type;
  }

  const groups = {
    eni: new Map<string, Map<string, StateType>>(),
    subnet: new Map<string, Map<string, StateType>>(),
    pool: new Map<string, Map<string, StateType>>(),
  };
  for (const eni of enis) {
    groupOf(groups.eni, eni.id);
    groupOf(groups.subnet, eni.subnetId);
    if (eni.pool !== undefined) groupOf(groups.pool, eni.pool);
  }
  for (const [address, { eniId, state }] of counted) {
    const eni = eniById.get(eniId)?.eni;
    if (!eni) continue;
    groupOf(groups.eni, eni.id).set(address, state);
    groupOf(groups.subnet, eni.subnetId).set(address, state);
    if (eni.pool !== undefined) groupOf(groups.pool, eni.pool).set(address, state);
  }

  const cidrOfSubnet = new Map(enis.map((e) => [e.subnetId, eniById.get(e.id)?.cidr] as const));
  return {
    node: countStates(new Map([...counted].map(([a, c]) => [a, c.state]))),
    byEni: [...groups.eni].map(([eniId, set]) => ({ eniId, ...countStates(set) })),
    bySubnet: [...groups.subnet].map(([subnetId, set]) => {
      const cidr = cidrOfSubnet.get(subnetId);
      const usable = cidr ? usableAddressCount(cidr) : 0;
      return { subnetId, cidr: cidr?.text ?? '', usable, ...countStates(set) };
    }),
    byPool: [...groups.pool].map(([pool, set]) => ({ pool, ...countStates(set) })),
    anomalies,
  };
}

/**
 * Clamps a count that claims to lie inside a subnet (e.g. EC2's AvailableIpAddressCount, or a sum
 * from elsewhere) to the subnet's usable size; `excess` > 0 flags a source that overcounts.
 */
export function clampToUsable(subnetCidr: string, count: number): { value: number; excess: number } {
  const usable = usableAddressCount(parseCidr(subnetCidr));
  const value = Math.max(0, Math.min(count, usable));
  return { value, excess: Math.max(0, count - usable) };
}

function placeRecord(
  record: AccountedAddress,
  eniById: ReadonlyMap<string, { eni: AccountingEni; cidr: Cidr }>,
  anomalies: Anomaly[],
): { address: string } | undefined {
  let num: number;
  try {
    num = ipToNumber(record.address);
  } catch {
    anomalies.push({ address: record.address, eniId: record.eniId, reason: 'invalid' });
    return undefined;
  }
  const address = numberToIp(num);
  const eni = eniById.get(record.eniId);
  const reason: AnomalyReason | undefined = !eni
    ? 'unknown-eni'
    : !cidrContains(eni.cidr, num)
      ? 'outside-subnet'
      : !isUsableInSubnet(eni.cidr, num)
        ? 'reserved-by-aws'
        : undefined;
  if (reason) {
    anomalies.push({ address, eniId: record.eniId, reason });
    return undefined;
  }
  return { address };
}

function groupOf(groups: Map<string, Map<string, StateType>>, key: string): Map<string, StateType> {
  let group = groups.get(key);
  if (!group) {
    group = new Map();
    groups.set(key, group);
  }
  return group;
}

function countStates(states: ReadonlyMap<string, StateType>): Counts {
  let assigned = 0;
  let cooling = 0;
  for (const state of states.values()) {
    if (state === 'assigned') assigned++;
    else if (state === 'cooling') cooling++;
  }
  return { total: states.size, assigned, cooling, free: states.size - assigned - cooling };
}
