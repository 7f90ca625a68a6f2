import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DelRequest } from '../../agent/cni-backend.js';
import { loadConfig } from '../../agent/config.js';
import { silentLogger } from '../../agent/logger.js';
import { startAgent } from '../../agent/assemble.js';
import { applyReleaseSpool } from '../../agent/release-spool.js';
import { checkStartup, settingConflicts, StartupConflictError } from '../../agent/startup-checks.js';
import { encodeRequest } from '../../cni/protocol.js';

const NODE = { MY_NODE_NAME: 'ip-10-0-1-5.ec2.internal' };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reliab-startup-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('conflicting settings are refused at start-up, each named', () => {
  const cases: [string, Record<string, string>, RegExp | undefined][] = [
    ['defaults', {}, undefined],
    [
      'socket = checkpoint',
      { ENI_IPAM_SOCKET: '/run/x/a', ENI_IPAM_CHECKPOINT: '/run/x/a' },
      /ENI_IPAM_SOCKET and ENI_IPAM_CHECKPOINT are the same file/,
    ],
    [
      'spool = socket, written differently',
      { ENI_IPAM_SOCKET: '/run/x/a', ENI_IPAM_SPOOL: '/run/x/../x/a' },
      /ENI_IPAM_SOCKET and ENI_IPAM_SPOOL/,
    ],
    [
      'metrics and introspection on one port',
      { ENI_IPAM_METRICS_BIND_ADDRESS: ':7000', INTROSPECTION_BIND_ADDRESS: '127.0.0.1:7000' },
      /both listen on port 7000/,
    ],
    [
      'same port on different hosts is fine',
      { ENI_IPAM_METRICS_BIND_ADDRESS: '127.0.0.2:7000', INTROSPECTION_BIND_ADDRESS: '127.0.0.1:7000' },
      undefined,
    ],
  ];
  for (const [name, env, problem] of cases) {
    it(name, () => {
      const problems = settingConflicts(loadConfig({ ...NODE, ...env }));
      if (problem === undefined) expect(problems).toEqual([]);
      else expect(problems.join('\n')).toMatch(problem);
    });
  }

  it('a spool path that is a directory', async () => {
    const spool = join(dir, 'spool');
    await mkdir(spool);
    const config = loadConfig({ ...NODE, ENI_IPAM_SPOOL: spool });
    await expect(checkStartup(config)).rejects.toThrow(/ENI_IPAM_SPOOL .* is a directory/);
  });

  it('the agent process refuses to start, before opening anything', async () => {
    const config = loadConfig({
      ...NODE,
      AWS_REGION: 'us-east-1',
      ENI_IPAM_SOCKET: join(dir, 'same'),
      ENI_IPAM_CHECKPOINT: join(dir, 'same'),
    });
    await expect(startAgent(config, {}, silentLogger())).rejects.toBeInstanceOf(StartupConflictError);
    expect(await readdir(dir)).toEqual([]);
  }, 10_000);
});

describe('release spool recovery', () => {
  const del = (containerId: string): DelRequest => ({
    op: 'del',
    containerId,
    ifname: 'eth0',
    network: 'n',
    pod: {},
    spooledAt: 1,
  });

  it('a left-over claimed spool that cannot be read is set aside; the live spool is still applied', async () => {
    const spool = join(dir, 'release-spool.jsonl');
    await mkdir(`${spool}.applying`);
    await writeFile(spool, encodeRequest(del('c1')));
    const applied: string[] = [];
    const report = await applyReleaseSpool({
      path: spool,
      backend: { del: (r) => (applied.push(r.containerId), Promise.resolve({ kind: 'ok' as const })) },
    });
    expect(report.applied).toBe(1);
    expect(applied).toEqual(['c1']);
    const left = await readdir(dir);
    expect(left.filter((f) => f.startsWith('release-spool.jsonl.applying.unreadable-'))).toHaveLength(1);
    expect(left).not.toContain('release-spool.jsonl.applying');
    // The next start is clean.
    expect(
      (
        await applyReleaseSpool({
          path: spool,
          backend: { del: () => Promise.resolve({ kind: 'ok' as const }) },
        })
      ).applied,
    ).toBe(0);
  });

  it('a left-over claimed spool from a crash is applied first', async () => {
    const spool = join(dir, 'release-spool.jsonl');
    await writeFile(`${spool}.applying`, encodeRequest(del('old')));
    await writeFile(spool, encodeRequest(del('new')));
    const applied: string[] = [];
    await applyReleaseSpool({
      path: spool,
      backend: { del: (r) => (applied.push(r.containerId), Promise.resolve({ kind: 'ok' as const })) },
    });
    expect(applied).toEqual(['old', 'new']);
    expect(await readdir(dir)).toEqual([]);
  });
});
