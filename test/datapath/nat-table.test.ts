import { describe, expect, it } from 'vitest';
import { natTableBody, natTableScript } from '../../datapath/nat-table.js';
import type { NatPlan } from '../../datapath/model.js';

const plan: NatPlan = {
  primaryMac: '0e:00:00:00:00:01',
  primaryIp: '10.0.0.10',
  snat: true,
  noSnatCidrs: ['10.0.0.0/16', '192.168.0.0/16'],
  randomize: 'prng',
  connmark: 0x80,
};

describe('the nftables table', () => {
  it.each([
    ['prng', ' fully-random'],
    ['hashrandom', ' random'],
    ['none', ''],
  ] as const)('RANDOMIZESNAT=%s SNATs non-VPC traffic to the primary address%s', (randomize, flag) => {
    expect(natTableBody({ ...plan, randomize }, 'ens5')).toContain(
      `ip daddr != { 10.0.0.0/16, 192.168.0.0/16 } fib daddr type != local snat ip to 10.0.0.10${flag}\n`,
    );
  });

  it('marks connections entering on the primary interface to a local address, restores the mark elsewhere', () => {
    const body = natTableBody(plan, 'ens5');
    expect(body).toContain('iifname "ens5" fib daddr type local ct state new ct mark set ct mark or 0x80');
    expect(body).toContain('iifname != "ens5" ct mark and 0x80 == 0x80 meta mark set meta mark or 0x80');
  });

  it('has no SNAT chain with external SNAT, and a hash that changes with the content', () => {
    expect(natTableBody({ ...plan, snat: false }, 'ens5')).not.toContain('snat');
    expect(natTableScript(plan, 'ens5').hash).not.toBe(natTableScript({ ...plan, snat: false }, 'ens5').hash);
    expect(natTableScript(plan, 'ens5').hash).toBe(natTableScript({ ...plan }, 'ens5').hash);
  });

  it('replaces the table in one transaction: create if missing, delete, create', () => {
    const { script, hash } = natTableScript(plan, 'eth0');
    expect(script.split('\n').slice(0, 4)).toEqual([
      'table ip eni-ipam {}',
      'delete table ip eni-ipam',
      'table ip eni-ipam {',
      `  comment "eni-ipam ${hash}"`,
    ]);
  });

  it('refuses an interface name that could inject nft syntax', () => {
    expect(() => natTableBody(plan, 'eth0" drop')).toThrow(/not an interface name/);
  });
});
