import { describe, expect, it } from 'vitest';
import { DatapathFactsError, desiredState } from '../../datapath/desired-state.js';
import { ruleLine } from '../../datapath/kernel-plan.js';
import type { EniFacts, NodeFacts } from '../../datapath/model.js';

const eth0: EniFacts = {
  eniId: 'eni-0',
  mac: '0E:00:00:00:00:01',
  deviceNumber: 0,
  primary: true,
  primaryIp: '10.0.0.10',
  subnetCidr: '10.0.0.0/20',
};
const eth2: EniFacts = {
  eniId: 'eni-2',
  mac: '0e:00:00:00:00:03',
  deviceNumber: 2,
  primary: false,
  primaryIp: '10.0.16.7',
  subnetCidr: '10.0.16.0/20',
};

function facts(over: Partial<NodeFacts> = {}): NodeFacts {
  return {
    enis: [eth2, eth0],
    pods: [
      { address: '10.0.0.20', eniId: 'eni-0' },
      { address: '10.0.16.30', eniId: 'eni-2' },
    ],
    vpcCidrs: ['10.0.0.0/16', '100.64.0.0/16'],
    snat: { external: false, excludeCidrs: [], randomize: 'prng' },
    mtu: 9001,
    ...over,
  };
}

const rules = (f: NodeFacts): string[] => desiredState(f).rules.map((r) => ruleLine('add', r));

describe('desiredState', () => {
  it('gives a secondary ENI table device number + 1: its subnet on the link and default via the subnet router', () => {
    const state = desiredState(facts());
    expect(state.routes).toEqual([
      { table: 3, dst: '10.0.16.0/20', mac: '0e:00:00:00:00:03' },
      { table: 3, dst: 'default', mac: '0e:00:00:00:00:03', gateway: '10.0.16.1' },
    ]);
    expect(state.links).toEqual([
      { mac: '0e:00:00:00:00:01', mtu: 9001, primary: true, addresses: [] },
      { mac: '0e:00:00:00:00:03', mtu: 9001, primary: false, addresses: ['10.0.16.7/32'] },
    ]);
  });

  it.each([
    {
      name: 'SNAT on: the from-rule only for VPC destinations',
      snat: { external: false, excludeCidrs: [], randomize: 'prng' as const },
      expected: [
        'rule add fwmark 0x80/0x80 lookup main priority 1024',
        'rule add to 10.0.0.20/32 lookup main priority 512',
        'rule add to 10.0.16.30/32 lookup main priority 512',
        'rule add from 10.0.16.30/32 to 10.0.0.0/16 lookup 3 priority 1536',
        'rule add from 10.0.16.30/32 to 100.64.0.0/16 lookup 3 priority 1536',
      ],
    },
    {
      name: 'excluded CIDRs are reached unSNATed, so by the pod ENI too',
      snat: { external: false, excludeCidrs: ['192.168.0.0/16', '10.0.0.0/16'], randomize: 'none' as const },
      expected: [
        'rule add fwmark 0x80/0x80 lookup main priority 1024',
        'rule add to 10.0.0.20/32 lookup main priority 512',
        'rule add to 10.0.16.30/32 lookup main priority 512',
        'rule add from 10.0.16.30/32 to 10.0.0.0/16 lookup 3 priority 1536',
        'rule add from 10.0.16.30/32 to 100.64.0.0/16 lookup 3 priority 1536',
        'rule add from 10.0.16.30/32 to 192.168.0.0/16 lookup 3 priority 1536',
      ],
    },
    {
      name: 'external SNAT: every destination by the pod ENI',
      snat: { external: true, excludeCidrs: [], randomize: 'prng' as const },
      expected: [
        'rule add fwmark 0x80/0x80 lookup main priority 1024',
        'rule add to 10.0.0.20/32 lookup main priority 512',
        'rule add to 10.0.16.30/32 lookup main priority 512',
        'rule add from 10.0.16.30/32 lookup 3 priority 1536',
      ],
    },
  ])('$name', ({ snat, expected }) => {
    expect(rules(facts({ snat }))).toEqual(expected);
  });

  it('gives a pod on the primary ENI no from-rule and a pod of an unknown ENI no rule', () => {
    const lines = rules(
      facts({
        pods: [
          { address: '10.0.0.21', eniId: 'eni-0' },
          { address: '10.0.9.9', eniId: 'eni-gone' },
        ],
      }),
    );
    expect(lines).toEqual([
      'rule add fwmark 0x80/0x80 lookup main priority 1024',
      'rule add to 10.0.0.21/32 lookup main priority 512',
    ]);
  });

  it('plans SNAT to the primary address except for the VPC and excluded CIDRs', () => {
    expect(
      desiredState(
        facts({ snat: { external: false, excludeCidrs: ['172.16.0.0/12'], randomize: 'hashrandom' } }),
      ).nat,
    ).toEqual({
      primaryMac: '0e:00:00:00:00:01',
      primaryIp: '10.0.0.10',
      snat: true,
      noSnatCidrs: ['10.0.0.0/16', '100.64.0.0/16', '172.16.0.0/12'],
      randomize: 'hashrandom',
      connmark: 0x80,
    });
    expect(
      desiredState(facts({ snat: { external: true, excludeCidrs: [], randomize: 'prng' } })).nat.snat,
    ).toBe(false);
  });

  it('refuses facts without a primary ENI or VPC CIDR, and malformed CIDRs', () => {
    expect(() => desiredState(facts({ enis: [eth2] }))).toThrow(DatapathFactsError);
    expect(() => desiredState(facts({ vpcCidrs: [] }))).toThrow(/no IPv4 CIDR/);
    expect(() =>
      desiredState(facts({ snat: { external: false, excludeCidrs: ['10.0.0.1/8'], randomize: 'none' } })),
    ).toThrow(/host bits/);
  });
});
