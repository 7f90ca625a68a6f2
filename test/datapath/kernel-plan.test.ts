import { describe, expect, it } from 'vitest';
import { desiredState } from '../../datapath/desired-state.js';
import {
  parseLinks,
  parseRoutes,
  parseRules,
  planKernel,
  planPodRules,
  splitJsonDocuments,
  type ObservedKernel,
} from '../../datapath/kernel-plan.js';
import type { NodeFacts } from '../../datapath/model.js';

const facts: NodeFacts = {
  enis: [
    {
      eniId: 'eni-0',
      mac: '0e:00:00:00:00:01',
      deviceNumber: 0,
      primary: true,
      primaryIp: '10.0.0.10',
      subnetCidr: '10.0.0.0/20',
    },
    {
      eniId: 'eni-1',
      mac: '0e:00:00:00:00:02',
      deviceNumber: 1,
      primary: false,
      primaryIp: '10.0.0.11',
      subnetCidr: '10.0.0.0/20',
    },
  ],
  pods: [{ address: '10.0.0.30', eniId: 'eni-1' }],
  vpcCidrs: ['10.0.0.0/16'],
  snat: { external: false, excludeCidrs: [], randomize: 'prng' },
  mtu: 9001,
};

// What `ip -json -batch` prints for "addr show / rule show / route show table all" on such a node.
const kernelJson = `[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"mtu":65536,"address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},{"ifindex":2,"ifname":"eth0","flags":["BROADCAST","UP"],"mtu":9001,"address":"0e:00:00:00:00:01","addr_info":[{"family":"inet","local":"10.0.0.10","prefixlen":20}]},{"ifindex":3,"ifname":"eth1","flags":["BROADCAST"],"mtu":1500,"address":"0E:00:00:00:00:02","addr_info":[]}]
[{"priority":0,"src":"all","table":"local"},{"priority":512,"src":"all","dst":"10.0.0.99","table":"main"},{"priority":1536,"src":"10.0.0.99","dst":"10.0.0.0","dstlen":16,"table":"3"},{"priority":1024,"src":"all","fwmark":"0x80","fwmask":"0x80","table":"main"},{"priority":2000,"src":"all","dst":"10.0.0.99","table":"main"},{"priority":32766,"src":"all","table":"main"}]
[{"dst":"default","gateway":"10.0.0.1","dev":"eth0","flags":[]},{"dst":"default","gateway":"10.0.16.1","dev":"eth2","table":"3","flags":["onlink"]},{"dst":"10.0.16.0/20","dev":"eth2","table":"3","scope":"link","flags":[]},{"type":"local","dst":"10.0.0.10","dev":"eth0","table":"local"},{"dst":"10.9.0.0/16","dev":"eth0","table":"1000","flags":[]}]
`;

function observed(): ObservedKernel {
  const [links, rules, routes] = splitJsonDocuments(kernelJson);
  return { links: parseLinks(links), rules: parseRules(rules), routes: parseRoutes(routes) };
}

describe('reading ip -json', () => {
  it('parses links by lower-case MAC, rules with their lengths and marks, unicast routes with their table', () => {
    const k = observed();
    expect(k.links.map((l) => [l.ifname, l.mac, l.mtu, l.up])).toEqual([
      ['lo', '00:00:00:00:00:00', 65536, true],
      ['eth0', '0e:00:00:00:00:01', 9001, true],
      ['eth1', '0e:00:00:00:00:02', 1500, false],
    ]);
    expect(k.rules).toContainEqual({ priority: 1536, src: '10.0.0.99/32', dst: '10.0.0.0/16', table: 3 });
    expect(k.rules).toContainEqual({ priority: 1024, fwmark: { value: 0x80, mask: 0x80 }, table: 'main' });
    expect(k.routes).toContainEqual({ table: 3, dst: 'default', dev: 'eth2', gateway: '10.0.16.1' });
    expect(k.routes.some((r) => r.table === 'local')).toBe(false);
  });

  it('splits concatenated documents even with brackets inside strings', () => {
    expect(splitJsonDocuments('[{"a":"]["}]\n[]\n{"b":1}')).toEqual([[{ a: '][' }], [], { b: 1 }]);
  });
});

describe('planKernel', () => {
  it("adds what is missing before it removes what is stale, and leaves what is not the agent's alone", () => {
    const plan = planKernel(desiredState(facts), observed());
    expect(plan.problems).toEqual([]);
    expect(plan.lines).toEqual([
      'link set dev eth1 mtu 9001',
      'link set dev eth1 up',
      'addr replace 10.0.0.11/32 dev eth1',
      'route replace 10.0.0.0/20 scope link dev eth1 table 2',
      'route replace default via 10.0.0.1 onlink dev eth1 table 2',
      'rule add to 10.0.0.30/32 lookup main priority 512',
      'rule add from 10.0.0.30/32 to 10.0.0.0/16 lookup 2 priority 1536',
      'rule del to 10.0.0.99/32 lookup main priority 512',
      'rule del from 10.0.0.99/32 to 10.0.0.0/16 lookup 3 priority 1536',
      // Table 3 belonged to an ENI that is gone; table 1000 and rule 2000 are not the agent's.
      'route del default table 3',
      'route del 10.0.16.0/20 table 3',
    ]);
  });

  it('writes nothing when the kernel already matches', () => {
    const first = observed();
    const matching: ObservedKernel = {
      links: first.links.map((l) =>
        l.ifname === 'eth1' ? { ...l, mtu: 9001, up: true, addresses: ['10.0.0.11/32'] } : l,
      ),
      rules: parseRules(
        JSON.parse(
          '[{"priority":1024,"src":"all","fwmark":"0x80","fwmask":"0x80","table":"main"},{"priority":512,"src":"all","dst":"10.0.0.30","table":"main"},{"priority":1536,"src":"10.0.0.30","dst":"10.0.0.0","dstlen":16,"table":"2"}]',
        ),
      ),
      routes: [
        { table: 2, dst: '10.0.0.0/20', dev: 'eth1', gateway: undefined },
        { table: 2, dst: 'default', dev: 'eth1', gateway: '10.0.0.1' },
      ],
    };
    expect(planKernel(desiredState(facts), matching)).toEqual({ lines: [], problems: [] });
  });

  it('reports an ENI whose link has not appeared, and writes no route for it', () => {
    const k = observed();
    const plan = planKernel(desiredState(facts), { ...k, links: k.links.filter((l) => l.ifname !== 'eth1') });
    expect(plan.problems).toEqual([
      "no link has MAC 0e:00:00:00:00:02 (the ENI's device has not appeared yet)",
    ]);
    expect(plan.lines.some((l) => l.includes('table 2'))).toBe(false);
  });
});

describe('planPodRules', () => {
  it('moves an address to its new ENI table and leaves other pods alone', () => {
    const lines = planPodRules(
      [
        {
          address: '10.0.0.99',
          rules: [
            { priority: 512, dst: '10.0.0.99/32', table: 'main' },
            { priority: 1536, src: '10.0.0.99/32', dst: '10.0.0.0/16', table: 4 },
          ],
        },
      ],
      [
        { priority: 512, dst: '10.0.0.99/32', table: 'main' },
        { priority: 1536, src: '10.0.0.99/32', dst: '10.0.0.0/16', table: 3 },
        { priority: 1536, src: '10.0.0.98/32', dst: '10.0.0.0/16', table: 3 },
      ],
    );
    expect(lines).toEqual([
      'rule add from 10.0.0.99/32 to 10.0.0.0/16 lookup 4 priority 1536',
      'rule del from 10.0.0.99/32 to 10.0.0.0/16 lookup 3 priority 1536',
    ]);
  });
});
