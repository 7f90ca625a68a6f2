import { describe, expect, it } from 'vitest';
import { compareAddressSources } from '../../ipam/accounting.js';
import { accountAddresses, clampToUsable, type AccountedAddress } from './support/address-accounting.js';
import type { AddressState } from '../../ipam/datastore-types.js';
import { Datastore } from '../../ipam/datastore.js';

const ENIS = [
  { id: 'eni-0', subnetId: 'subnet-a', subnetCidr: '10.0.0.0/28' },
  { id: 'eni-1', subnetId: 'subnet-a', subnetCidr: '10.0.0.0/28', pool: 'vms' },
  { id: 'eni-2', subnetId: 'subnet-b', subnetCidr: '10.1.0.0/24' },
];

function rec(address: string, eniId: string, type: AddressState['type'] = 'available'): AccountedAddress {
  return { address, eniId, state: { type } };
}

describe('accountAddresses', () => {
  it('counts each group as a set of distinct addresses', () => {
    const result = accountAddresses(ENIS, [
      rec('10.0.0.4', 'eni-0', 'assigned'),
      rec('10.0.0.5', 'eni-0', 'cooling'),
      rec('10.0.0.6', 'eni-0'),
      rec('10.0.0.7', 'eni-1', 'assigned'),
      rec('10.1.0.10', 'eni-2'),
    ]);
    expect(result.node).toEqual({ total: 5, assigned: 2, cooling: 1, free: 2 });
    expect(result.byEni).toEqual([
      { eniId: 'eni-0', total: 3, assigned: 1, cooling: 1, free: 1 },
      { eniId: 'eni-1', total: 1, assigned: 1, cooling: 0, free: 0 },
      { eniId: 'eni-2', total: 1, assigned: 0, cooling: 0, free: 1 },
    ]);
    expect(result.bySubnet).toEqual([
      { subnetId: 'subnet-a', cidr: '10.0.0.0/28', usable: 11, total: 4, assigned: 2, cooling: 1, free: 1 },
      { subnetId: 'subnet-b', cidr: '10.1.0.0/24', usable: 251, total: 1, assigned: 0, cooling: 0, free: 1 },
    ]);
    expect(result.byPool).toEqual([{ pool: 'vms', total: 1, assigned: 1, cooling: 0, free: 0 }]);
    expect(result.anomalies).toEqual([]);
  });

  it('counts an address named by two sources once, with the busiest state', () => {
    const result = accountAddresses(ENIS, [
      rec('10.0.0.4', 'eni-0'),
      rec('10.0.0.4', 'eni-0', 'assigned'),
      rec('10.0.0.4', 'eni-0', 'cooling'),
      rec('10.0.0.5', 'eni-0', 'cooling'),
      rec('10.0.0.5', 'eni-0'),
    ]);
    expect(result.node).toEqual({ total: 2, assigned: 1, cooling: 1, free: 0 });
    expect(result.anomalies).toEqual([]);
  });

  it('an address claimed by two ENIs counts once and is flagged', () => {
    const result = accountAddresses(ENIS, [rec('10.0.0.4', 'eni-0'), rec('10.0.0.4', 'eni-1', 'assigned')]);
    expect(result.node).toEqual({ total: 1, assigned: 1, cooling: 0, free: 0 });
    expect(result.byEni.find((e) => e.eniId === 'eni-0')).toMatchObject({ total: 1, assigned: 1 });
    expect(result.anomalies).toEqual([{ address: '10.0.0.4', eniId: 'eni-1', reason: 'on-several-enis' }]);
  });

  it('never counts more than the subnet holds: out-of-range addresses are flagged, not counted', () => {
    // every address of the /28, each listed twice, plus strays
    const all = Array.from({ length: 16 }, (_, i) => `10.0.0.${i}`);
    const result = accountAddresses(ENIS, [
      ...all.map((a) => rec(a, 'eni-0')),
      ...all.map((a) => rec(a, 'eni-0', 'assigned')),
      rec('10.0.0.99', 'eni-0'),
      rec('10.0.0.9', 'eni-9'),
      rec('10.0.0.09', 'eni-0'),
    ]);
    const subnet = result.bySubnet.find((s) => s.subnetId === 'subnet-a');
    expect(subnet).toMatchObject({ usable: 11, total: 11, assigned: 11 });
    expect(result.anomalies.map((a) => `${a.address} ${a.reason}`)).toEqual([
      '10.0.0.0 reserved-by-aws',
      '10.0.0.1 reserved-by-aws',
      '10.0.0.2 reserved-by-aws',
      '10.0.0.3 reserved-by-aws',
      '10.0.0.15 reserved-by-aws',
      '10.0.0.0 reserved-by-aws',
      '10.0.0.1 reserved-by-aws',
      '10.0.0.2 reserved-by-aws',
      '10.0.0.3 reserved-by-aws',
      '10.0.0.15 reserved-by-aws',
      '10.0.0.99 outside-subnet',
      '10.0.0.9 unknown-eni',
      '10.0.0.09 invalid',
    ]);
  });

  it('lists ENIs, subnets and pools that hold nothing with zero counts', () => {
    const result = accountAddresses(ENIS, []);
    expect(result.node).toEqual({ total: 0, assigned: 0, cooling: 0, free: 0 });
    expect(result.byEni).toHaveLength(3);
    expect(result.byPool).toEqual([{ pool: 'vms', total: 0, assigned: 0, cooling: 0, free: 0 }]);
  });

  it('accepts the datastore records as they are', () => {
    const ds = new Datastore();
    ds.addEni({
      id: 'eni-0',
      subnetId: 'subnet-b',
      subnetCidr: '10.1.0.0/24',
      deviceIndex: 0,
      primary: true,
    });
    ds.addPrefixes('eni-0', ['10.1.0.16/28']);
    ds.addIps('eni-0', ['10.1.0.5']);
    ds.assign(
      { key: { containerId: 'c', ifName: 'eth0' }, pod: { uid: 'u', namespace: 'ns', name: 'p' } },
      0,
    );
    const result = accountAddresses(ds.enis(), ds.addressRecords());
    expect(result.node).toEqual({ ...ds.totals() });
    expect(result.node).toEqual({ total: 17, assigned: 1, cooling: 0, free: 16 });
  });
});

describe('clampToUsable', () => {
  it.each([
    ['10.0.0.0/24', 100, { value: 100, excess: 0 }],
    ['10.0.0.0/24', 251, { value: 251, excess: 0 }],
    ['10.0.0.0/24', 256, { value: 251, excess: 5 }],
    ['10.0.0.0/28', 16, { value: 11, excess: 5 }],
    ['10.0.0.0/28', -3, { value: 0, excess: 0 }],
  ])('%s with %d', (cidr, count, expected) => {
    expect(clampToUsable(cidr, count)).toEqual(expected);
  });
});

describe('compareAddressSources', () => {
  it('agrees when both sides name the same addresses, however spelled', () => {
    const result = compareAddressSources({
      datastore: ['10.0.0.16/28', '10.0.0.5'],
      ec2: ['10.0.0.5', ...Array.from({ length: 16 }, (_, i) => `10.0.0.${16 + i}`)],
    });
    expect(result).toEqual({
      distinct: 17,
      agree: true,
      sources: [
        { name: 'datastore', entries: 2, distinct: 17, missing: [], invalid: [] },
        { name: 'ec2', entries: 17, distinct: 17, missing: [], invalid: [] },
      ],
    });
  });

  it('a /32 inside a listed prefix counts once', () => {
    const result = compareAddressSources({ node: ['10.0.0.16/28', '10.0.0.20', '10.0.0.20'] });
    expect(result.distinct).toBe(16);
    expect(result.sources[0]).toMatchObject({ entries: 3, distinct: 16 });
  });

  it('names what each side lacks and what it could not read', () => {
    const result = compareAddressSources({
      datastore: ['10.0.0.5', '10.0.0.6', 'bogus'],
      ec2: ['10.0.0.6', '10.0.0.7', '10.0.0.0/8'],
    });
    expect(result.agree).toBe(false);
    expect(result.distinct).toBe(3);
    expect(result.sources).toEqual([
      { name: 'datastore', entries: 3, distinct: 2, missing: ['10.0.0.7'], invalid: ['bogus'] },
      { name: 'ec2', entries: 3, distinct: 2, missing: ['10.0.0.5'], invalid: ['10.0.0.0/8'] },
    ]);
  });

  it('no sources agree trivially', () => {
    expect(compareAddressSources({})).toEqual({ distinct: 0, agree: true, sources: [] });
  });
});
