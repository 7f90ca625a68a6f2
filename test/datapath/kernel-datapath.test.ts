import { describe, expect, it } from 'vitest';
import type { CommandRunner } from '../../datapath/command.js';
import { desiredState, podRules } from '../../datapath/desired-state.js';
import { KernelDatapath } from '../../datapath/kernel-datapath.js';
import type { EniFacts, NodeFacts } from '../../datapath/model.js';
import { numberToIp } from '../../ipam/address.js';

const eth0: EniFacts = {
  eniId: 'eni-0',
  mac: '0e:00:00:00:00:01',
  deviceNumber: 0,
  primary: true,
  primaryIp: '10.0.0.10',
  subnetCidr: '10.0.0.0/20',
};
const eth1: EniFacts = {
  eniId: 'eni-1',
  mac: '0e:00:00:00:00:02',
  deviceNumber: 1,
  primary: false,
  primaryIp: '10.0.0.11',
  subnetCidr: '10.0.0.0/20',
};
const facts: Pick<NodeFacts, 'vpcCidrs' | 'snat'> = {
  vpcCidrs: ['10.0.0.0/16'],
  snat: { external: false, excludeCidrs: [], randomize: 'prng' },
};

/** A kernel that answers `ip -json` reads and records every process started and its stdin. */
function recordingRunner(): {
  run: CommandRunner;
  calls: { command: string; args: readonly string[]; stdin: string }[];
} {
  const calls: { command: string; args: readonly string[]; stdin: string }[] = [];
  const links = `[{"ifname":"eth0","address":"0e:00:00:00:00:01","mtu":9001,"flags":["UP"],"addr_info":[]},{"ifname":"eth1","address":"0e:00:00:00:00:02","mtu":1500,"flags":[],"addr_info":[]}]`;
  const run: CommandRunner = (command, args, stdin) => {
    calls.push({ command, args, stdin: stdin ?? '' });
    let stdout = '';
    if (command === 'ip' && args.includes('-json') && args.includes('-batch')) stdout = `${links}\n[]\n[]\n`;
    else if (command === 'ip' && args.join(' ') === '-json rule show') stdout = '[]';
    else if (command === 'nft' && args[0] === '-j')
      return Promise.resolve({ code: 1, stdout: '', stderr: 'No such file or directory' });
    return Promise.resolve({ code: 0, stdout, stderr: '' });
  };
  return { run, calls };
}

describe('KernelDatapath', () => {
  it('writes the rules of a 200-pod burst with 2 processes: one read, one batch', async () => {
    const { run, calls } = recordingRunner();
    const datapath = new KernelDatapath({ run });
    const pods = Array.from({ length: 200 }, (_, i) => {
      const address = numberToIp(0x0a000064 + i);
      return { address, rules: podRules({ address, eniId: 'eni-1' }, eth1, facts) };
    });
    const report = await datapath.addPodRules(pods);
    expect(report.processes).toBe(2);
    expect(calls.map((c) => `${c.command} ${c.args.join(' ')}`)).toEqual([
      'ip -json rule show',
      'ip -force -batch -',
    ]);
    expect(calls[1]!.stdin.trim().split('\n')).toHaveLength(400);
  });

  it('reconciles a node in one read, one batch, one nft check and one nft transaction', async () => {
    const { run, calls } = recordingRunner();
    const sysctls = await import('node:fs/promises').then((fs) => fs.mkdtemp('/tmp/eni-ipam-sysctl-'));
    const fs = await import('node:fs/promises');
    await fs.mkdir(`${sysctls}/net/ipv4/conf/eth0`, { recursive: true });
    await fs.writeFile(`${sysctls}/net/ipv4/ip_forward`, '0');
    await fs.writeFile(`${sysctls}/net/ipv4/conf/eth0/rp_filter`, '1');
    try {
      const datapath = new KernelDatapath({ run, sysctlDir: sysctls });
      const state = desiredState({
        ...facts,
        enis: [eth0, eth1],
        pods: [{ address: '10.0.0.20', eniId: 'eni-1' }],
        mtu: 9001,
      });
      const report = await datapath.reconcile(state);
      expect(report.problems).toEqual([]);
      expect(report.processes).toBe(4);
      expect(calls.map((c) => `${c.command} ${c.args.join(' ')}`)).toEqual([
        'ip -json -batch -',
        'ip -force -batch -',
        'nft -j list table ip eni-ipam',
        'nft -f -',
      ]);
      expect(calls[1]!.stdin).toContain('link set dev eth1 mtu 9001');
      expect(calls[3]!.stdin).toContain('snat ip to 10.0.0.10 fully-random');
      expect((await fs.readFile(`${sysctls}/net/ipv4/conf/eth0/rp_filter`, 'utf8')).trim()).toBe('2');
      expect((await fs.readFile(`${sysctls}/net/ipv4/ip_forward`, 'utf8')).trim()).toBe('1');
    } finally {
      await fs.rm(sysctls, { recursive: true, force: true });
    }
  });

  it('writes no NAT and reports it when the primary ENI has no link here (not an EC2 node)', async () => {
    const { run, calls } = recordingRunner();
    const datapath = new KernelDatapath({ run });
    const state = desiredState({
      ...facts,
      enis: [{ ...eth0, mac: '0e:99:99:99:99:99' }],
      pods: [],
      mtu: 9001,
    });
    const report = await datapath.reconcile(state);
    expect(report.problems.join()).toMatch(/no link has the primary ENI's MAC 0e:99:99:99:99:99/);
    expect(calls.some((c) => c.command === 'nft')).toBe(false);
  });
});
