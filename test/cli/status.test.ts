import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IntrospectionServer } from '../../agent/introspection/introspection-server.js';
import { run } from '../../cli/status.js';
import { renderTable } from '../../cli/table.js';
import { systemClock } from '../../time/clock.js';
import { ManualClock } from '../../time/manual-clock.js';
import { FakeIntrospectionSource } from '../agent/introspection-fake.js';

function capture() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: (text: string) => {
        out.stdout += text;
      },
      stderr: (text: string) => {
        out.stderr += text;
      },
      clock: systemClock,
    },
  };
}

describe('eni-ipam status', () => {
  const servers: IntrospectionServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers.length = 0;
  });

  async function agent(source = new FakeIntrospectionSource()): Promise<string> {
    const server = new IntrospectionServer(source, { host: '127.0.0.1', port: 0 });
    servers.push(server);
    const { port } = await server.start();
    return `127.0.0.1:${port}`;
  }

  it('prints the summary and the ENI, pod and subnet tables', async () => {
    const address = await agent();
    const { out, io } = capture();
    expect(await run(['--address', address], io)).toBe(0);
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe(
      [
        'Ready (warm target met); 2/3 ENIs, secondary IPs; 6 addresses: 3 assigned, 1 cooling, 2 free; 3/29 pods; 0 ADDs waiting',
        '',
        'ENIs (2)',
        'ENI                 DEVICE  SUBNET    PRIMARY IP  PREFIXES  ADDRESSES  ASSIGNED  COOLING  FREE',
        'eni-0aaa (primary)       0  subnet-1  10.0.1.10          0          4         2        1     1',
        'eni-0bbb *               1  subnet-2  10.0.2.20          0          2         1        0     1',
        '',
        'Pods (3)',
        'NAMESPACE    POD               IP         ENI       CONTAINER                  OWNER',
        'default      web-1             10.0.1.11  eni-0aaa  0123456789abcdef0123/eth0',
        'kube-system  coredns-x         10.0.1.12  eni-0aaa  fedcba9876543210fedc/eth0',
        'vms          virt-launcher-db  10.0.2.21  eni-0bbb  aaaabbbbccccddddeeee/eth0  VirtualMachine vms/db',
        '',
        'Subnets (2)',
        'SUBNET    AZ          CIDR         FREE  IN FLIGHT  SKIPPED UNTIL',
        'subnet-1  us-east-1a  10.0.1.0/24   180          0',
        'subnet-2  us-east-1a  10.0.2.0/24     0          2  2026-01-01T00:03:00.000Z',
        '',
      ].join('\n'),
    );
  });

  it('shows a full node as ready with its shortage, with ADDs waiting and no pods', async () => {
    const source = new FakeIntrospectionSource();
    source.ready = {
      firstReconcileDone: true,
      warmTargetMet: false,
      warmTargetInProgress: false,
      blockedReason: 'subnet-2 is full',
    };
    source.pendingAdds = 3;
    source.podList = [];
    source.subnetList = [];
    const { out, io } = capture();
    expect(await run([`--address=${await agent(source)}`], io)).toBe(0);
    const lines = out.stdout.split('\n');
    expect(lines[0]).toBe(
      'Ready (serving; warm target not met: subnet-2 is full); 2/3 ENIs, secondary IPs; 6 addresses: 3 assigned, 1 cooling, 2 free; 0/29 pods; 3 ADDs waiting',
    );
    expect(out.stdout).toContain('Pods (0)\n(none)\n');
    expect(out.stdout).toContain('Subnets (0)\n(none)\n');
  });

  it('sorts pods naturally (web-2 before web-10) and shows whole container ids', async () => {
    const source = new FakeIntrospectionSource();
    const longId = 'f'.repeat(64);
    source.podList = ['web-10', 'web-2', 'web-1'].map((name, i) => ({
      namespace: 'default',
      name,
      uid: `uid-${i}`,
      containerId: `${longId.slice(0, 60)}000${i}`,
      ifName: 'eth0',
      ip: `10.0.1.${20 + i}`,
      eniId: 'eni-0aaa',
    }));
    const { out, io } = capture();
    expect(await run([`--address=${await agent(source)}`], io)).toBe(0);
    const rows = out.stdout.split('\n').filter((line) => line.startsWith('default '));
    expect(rows.map((row) => row.split(/\s+/)[1])).toEqual(['web-1', 'web-2', 'web-10']);
    expect(rows[0]).toContain(`${longId.slice(0, 60)}0002/eth0`);
  });

  it('prints the raw JSON of every endpoint with --json', async () => {
    const source = new FakeIntrospectionSource();
    const { out, io } = capture();
    expect(await run(['--address', await agent(source), '--json'], io)).toBe(0);
    const parsed = JSON.parse(out.stdout) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['enis', 'pods', 'subnets', 'state', 'readiness']);
    expect(parsed.pods).toEqual({ pods: source.podList });
    expect(parsed.state).toMatchObject({ limits: { maxEnis: 3, maxPods: 29 }, pending: 0 });
  });

  it('fails with exit 1 naming the address when the agent is unreachable', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => {
          resolve(typeof address === 'object' && address ? address.port : 0);
        });
      });
    });
    const { out, io } = capture();
    expect(await run(['--address', `127.0.0.1:${port}`], io)).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(`cannot reach the agent at 127.0.0.1:${port} (ECONNREFUSED)`);
    expect(out.stderr).toContain('DISABLE_INTROSPECTION');
  });

  it('gives up on an agent that never answers, on the injected clock', async () => {
    // A TCP listener that accepts and never replies: a stuck agent.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const clock = new ManualClock();
    const { out, io } = capture();
    const exit = run(['--address', `127.0.0.1:${port}`], { ...io, clock });
    await clock.runUntil(() => false, 5_000);
    expect(await exit).toBe(1);
    expect(out.stderr).toContain('no answer within 5 s');
    silent.close();
  });

  it('reports an endpoint error with its status', async () => {
    const source = new FakeIntrospectionSource();
    source.subnets = () => {
      throw new Error('not discovered yet');
    };
    const { out, io } = capture();
    expect(await run(['--address', await agent(source)], io)).toBe(1);
    expect(out.stderr).toBe(
      'eni-ipam status: /v1/subnets answered 500: internal error: not discovered yet\n',
    );
  });

  it('reports an answer of the wrong shape instead of printing nonsense', async () => {
    const source = new FakeIntrospectionSource();
    const [first] = source.eniList;
    source.enis = () => [{ ...first!, deviceIndex: 'zero' as never }];
    const { out, io } = capture();
    expect(await run(['--address', await agent(source)], io)).toBe(1);
    expect(out.stderr).toMatch(
      /^eni-ipam status: unexpected answer from \/v1\/enis \(enis\.0\.deviceIndex: .+\)/,
    );
  });

  it('rejects bad arguments with exit 2 and the usage', async () => {
    const { out, io } = capture();
    expect(await run(['--bogus'], io)).toBe(2);
    expect(out.stderr).toContain('Usage: eni-ipam status');
    const second = capture();
    expect(await run(['--address', 'nonsense'], second.io)).toBe(2);
    expect(second.out.stderr).toBe(
      'eni-ipam status: --address "nonsense" is not host:port, :port or [ipv6]:port\n',
    );
  });

  it('prints the usage with --help', async () => {
    const { out, io } = capture();
    expect(await run(['--help'], io)).toBe(0);
    expect(out.stdout).toContain('--address HOST:PORT  introspection address (default 127.0.0.1:61679)');
  });
});

describe('renderTable', () => {
  it('pads columns to the widest cell, numbers to the right, without trailing spaces', () => {
    expect(
      renderTable(
        [{ header: 'NAME' }, { header: 'N', align: 'right' }, { header: 'NOTE' }],
        [
          ['a', '1', ''],
          ['longer', '100', 'x'],
        ],
      ),
    ).toBe(['NAME      N  NOTE', 'a         1', 'longer  100  x'].join('\n'));
  });
});
