/**
 * The real compiled plugin, spawned as a runtime spawns it, against a CniServer on a real unix
 * socket backed by the in-memory FakeBackend.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CniBackend } from '../../agent/cni-backend.js';
import { CniServer } from '../../agent/cni-server.js';
import { applyReleaseSpool } from '../../agent/release-spool.js';
import fc from 'fast-check';
import { FakeBackend, GATEWAY } from './fake-backend.js';
import { checkPluginOutput, pluginInvocation } from './plugin-input-arbitrary.js';
import {
  buildPlugin,
  execPlugin,
  stdoutJson,
  type BuiltPlugin,
  type ProcessResult,
} from './plugin-harness.js';

let plugin: BuiltPlugin;
let dir: string;
let socketPath: string;
let spoolPath: string;
let backend: FakeBackend;
let server: CniServer | undefined;

/** The server keeps one backend object; tests swap the fake behind it. */
const delegate: CniBackend = {
  add: (req, signal) => backend.add(req, signal),
  del: (req) => backend.del(req),
  check: (req) => backend.check(req),
  gc: (valid) => backend.gc(valid),
  status: () => backend.status(),
};

async function startAgent(): Promise<void> {
  server = new CniServer({ socketPath, backend: delegate });
  await server.start();
}

async function stopAgent(): Promise<void> {
  await server?.close();
  server = undefined;
}

beforeAll(async () => {
  plugin = await buildPlugin();
  dir = await mkdtemp(join(tmpdir(), 'eni-ipam-cni-'));
  socketPath = join(dir, 'run', 'ipam.sock');
  spoolPath = join(dir, 'run', 'release-spool.jsonl');
});

afterAll(async () => {
  await stopAgent();
  await plugin.dispose();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  backend = new FakeBackend();
  await rm(spoolPath, { force: true });
  await startAgent();
});

afterEach(stopAgent);

const POD_ARGS =
  'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=sandbox1;K8S_POD_UID=uid-1';

function netconf(cniVersion: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion,
    name: 'aws-cni',
    type: 'ptp',
    ipam: { type: 'eni-ipam', socket: socketPath, spoolPath },
    ...extra,
  };
}

function attachEnv(command: string, containerId: string, ifname = 'eth0'): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: `/var/run/netns/${containerId}`,
    CNI_IFNAME: ifname,
    CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: POD_ARGS,
  };
}

function cni(env: Record<string, string>, conf: unknown): Promise<ProcessResult> {
  return execPlugin(plugin.main, env, typeof conf === 'string' ? conf : JSON.stringify(conf));
}

function expectCniError(r: ProcessResult, code: number, cniVersion = '1.1.0'): Record<string, unknown> {
  expect(r.code, r.stdout + r.stderr).toBe(1);
  const body = stdoutJson(r);
  expect(body['code']).toBe(code);
  expect(body['cniVersion']).toBe(cniVersion);
  expect(typeof body['msg']).toBe('string');
  // Never a stack trace, on either stream.
  expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
  return body;
}

function expectEmptySuccess(r: ProcessResult): void {
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toBe('');
}

describe.each(['1.0.0', '1.1.0'])('cniVersion %s: ADD, CHECK, DEL', (v) => {
  it('returns the abbreviated IPAM result, idempotently, with the pod identity from CNI_ARGS', async () => {
    const first = await cni(attachEnv('ADD', 'c1'), netconf(v));
    expect(first.code, first.stdout).toBe(0);
    const expected = {
      cniVersion: v,
      ips: [{ address: '10.0.1.10/24', gateway: GATEWAY }],
      routes: [{ dst: '0.0.0.0/0', gw: GATEWAY }],
    };
    expect(stdoutJson(first)).toEqual(expected);
    expect(backend.calls[0]).toEqual({
      op: 'add',
      req: {
        op: 'add',
        containerId: 'c1',
        ifname: 'eth0',
        netns: '/var/run/netns/c1',
        network: 'aws-cni',
        pod: { namespace: 'shop', name: 'web-0', uid: 'uid-1', infraContainerId: 'sandbox1' },
      },
    });
    const again = await cni(attachEnv('ADD', 'c1'), netconf(v));
    expect(stdoutJson(again)).toEqual(expected);
    expect(backend.assignments.size).toBe(1);
    const second = await cni(attachEnv('ADD', 'c1', 'net1'), netconf(v));
    expect(stdoutJson(second)['ips']).toEqual([{ address: '10.0.1.11/24', gateway: GATEWAY }]);
  });

  it('CHECK confirms the address of prevResult and refuses one the container does not hold', async () => {
    const added = stdoutJson(await cni(attachEnv('ADD', 'c2'), netconf(v)));
    expectEmptySuccess(await cni(attachEnv('CHECK', 'c2'), netconf(v, { prevResult: added })));
    expect(backend.calls.at(-1)?.req).toMatchObject({ op: 'check', addresses: ['10.0.1.10/24'] });
    const wrong = { ...added, ips: [{ address: '10.0.1.99/24' }] };
    const body = expectCniError(
      await cni(attachEnv('CHECK', 'c2'), netconf(v, { prevResult: wrong })),
      102,
      v,
    );
    expect(body['details']).toBe('10.0.1.99/24');
  });

  it('DEL releases, is idempotent, and CHECK afterwards reports the container unknown', async () => {
    const added = stdoutJson(await cni(attachEnv('ADD', 'c3'), netconf(v)));
    expectEmptySuccess(await cni(attachEnv('DEL', 'c3'), netconf(v, { prevResult: added })));
    expect(backend.assignments.size).toBe(0);
    expect(backend.calls.at(-1)?.req).toMatchObject({ op: 'del', addresses: ['10.0.1.10/24'] });
    // Second DEL, without prevResult and without CNI_NETNS (the namespace is gone): still success.
    const env = attachEnv('DEL', 'c3');
    delete env['CNI_NETNS'];
    expectEmptySuccess(await cni(env, netconf(v)));
    expectCniError(await cni(attachEnv('CHECK', 'c3'), netconf(v, { prevResult: added })), 3, v);
    expect(await readFile(spoolPath, 'utf8').catch(() => 'none')).toBe('none');
  });
});

describe('older configs', () => {
  it.each(['0.3.1', '0.4.0'])('%s: ADD gives each IP its family', async (v) => {
    const r = await cni(attachEnv('ADD', 'old'), netconf(v));
    expect(stdoutJson(r)).toEqual({
      cniVersion: v,
      ips: [{ version: '4', address: '10.0.1.10/24', gateway: GATEWAY }],
      routes: [{ dst: '0.0.0.0/0', gw: GATEWAY }],
    });
  });

  it('refuses CHECK before 0.4.0 and GC/STATUS before 1.1.0 with code 1', async () => {
    const prevResult = { cniVersion: '0.3.1', ips: [{ version: '4', address: '10.0.1.10/24' }] };
    expectCniError(await cni(attachEnv('CHECK', 'x'), netconf('0.3.1', { prevResult })), 1, '0.3.1');
    const attachments = { 'cni.dev/valid-attachments': [] };
    expectCniError(
      await cni({ CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' }, netconf('1.0.0', attachments)),
      1,
      '1.0.0',
    );
    expectCniError(await cni({ CNI_COMMAND: 'STATUS' }, netconf('1.0.0')), 1, '1.0.0');
    expect(backend.calls).toEqual([]);
  });
});

describe('GC', () => {
  it('releases every reservation not in cni.dev/valid-attachments', async () => {
    for (const id of ['keep', 'drop1', 'drop2']) await cni(attachEnv('ADD', id), netconf('1.1.0'));
    await cni(attachEnv('ADD', 'keep', 'net1'), netconf('1.1.0'));
    const conf = netconf('1.1.0', {
      'cni.dev/valid-attachments': [
        { containerID: 'keep', ifname: 'eth0' },
        { containerID: 'keep', ifname: 'net1' },
      ],
    });
    expectEmptySuccess(await cni({ CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' }, conf));
    expect([...backend.assignments.keys()].sort()).toEqual(['keep/eth0', 'keep/net1']);
  });

  it('accepts the older cni.dev/attachments key', async () => {
    await cni(attachEnv('ADD', 'a'), netconf('1.1.0'));
    await cni(attachEnv('ADD', 'b'), netconf('1.1.0'));
    const conf = netconf('1.1.0', { 'cni.dev/attachments': [{ containerID: 'b', ifname: 'eth0' }] });
    expectEmptySuccess(await cni({ CNI_COMMAND: 'GC' }, conf));
    expect([...backend.assignments.keys()]).toEqual(['b/eth0']);
  });

  it('refuses a GC without the list instead of releasing everything', async () => {
    await cni(attachEnv('ADD', 'a'), netconf('1.1.0'));
    expectCniError(await cni({ CNI_COMMAND: 'GC' }, netconf('1.1.0')), 7);
    expect(backend.assignments.size).toBe(1);
  });
});

describe('STATUS and VERSION', () => {
  it('STATUS succeeds while addresses are free, gives 50 when the node is full or the agent is down', async () => {
    expectEmptySuccess(await cni({ CNI_COMMAND: 'STATUS' }, netconf('1.1.0')));
    backend = new FakeBackend(1);
    await cni(attachEnv('ADD', 'only'), netconf('1.1.0'));
    const full = expectCniError(await cni({ CNI_COMMAND: 'STATUS' }, netconf('1.1.0')), 50);
    expect(full['msg']).toBe('node cannot take another pod');
    await stopAgent();
    expectCniError(await cni({ CNI_COMMAND: 'STATUS' }, netconf('1.1.0')), 50);
  });

  it('VERSION lists the supported versions and needs no config', async () => {
    const r = await cni({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.1.0"}');
    expect(r.code).toBe(0);
    expect(stdoutJson(r)).toEqual({
      cniVersion: '1.1.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
    expect(stdoutJson(await cni({ CNI_COMMAND: 'VERSION' }, 'not json'))['supportedVersions']).toContain(
      '1.0.0',
    );
  });
});

describe('when the agent cannot give an address', () => {
  it('passes the agent’s try-again-later through', async () => {
    backend = new FakeBackend(0);
    const body = expectCniError(await cni(attachEnv('ADD', 'c'), netconf('1.0.0')), 11, '1.0.0');
    expect(body).toMatchObject({ msg: 'no free address', details: 'subnet full' });
  });

  it('answers 11 when the agent is down', async () => {
    await stopAgent();
    const body = expectCniError(await cni(attachEnv('ADD', 'c'), netconf('1.1.0')), 11);
    expect(body['details']).toMatch(/ENOENT/);
  });

  it('answers 101 when the agent speaks something else, and 11 when it never answers', async () => {
    await stopAgent();
    const rogue = await listenRaw(socketPath, (line) => (line.includes('"add"') ? '{"v":99}\n' : undefined));
    try {
      expectCniError(await cni(attachEnv('ADD', 'c'), netconf('1.1.0')), 101);
      const slow = netconf('1.1.0', { ipam: { socket: socketPath, addTimeoutSeconds: 0.3 } });
      await rogue.respondWith(() => undefined);
      const body = expectCniError(await cni(attachEnv('ADD', 'c'), slow), 11);
      expect(body['details']).toMatch(/within 300 ms/);
    } finally {
      await rogue.close();
    }
  });
});

describe('DEL while the agent is down', () => {
  it('records the release in the spool, succeeds, and the agent applies it at start', async () => {
    await cni(attachEnv('ADD', 'gone'), netconf('1.1.0'));
    await cni(attachEnv('ADD', 'stays'), netconf('1.1.0'));
    expect(backend.assignments.size).toBe(2);
    await stopAgent();

    const r = await cni(attachEnv('DEL', 'gone'), netconf('1.1.0'));
    expectEmptySuccess(r);
    expect(r.stderr).toMatch(/release recorded/);
    const lines = (await readFile(spoolPath, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      op: 'del',
      containerId: 'gone',
      ifname: 'eth0',
      network: 'aws-cni',
    });
    expect((await stat(spoolPath)).mode & 0o777).toBe(0o600);

    await startAgent();
    const report = await applyReleaseSpool({ path: spoolPath, backend: delegate });
    expect(report).toEqual({ applied: 1, kept: 0, unreadable: 0 });
    expect([...backend.assignments.keys()]).toEqual(['stays/eth0']);
    await expect(stat(spoolPath)).rejects.toThrow(/ENOENT/);
  });

  it('fails (code 11) rather than succeed when the release cannot be recorded', async () => {
    await stopAgent();
    const blocker = join(dir, 'not-a-dir');
    await writeFile(blocker, 'x');
    const conf = netconf('1.1.0', { ipam: { socket: socketPath, spoolPath: join(blocker, 'spool.jsonl') } });
    const body = expectCniError(await cni(attachEnv('DEL', 'c'), conf), 11);
    expect(body['msg']).toMatch(/could not be recorded/);
  });
});

describe('the socket', () => {
  it('is mode 0600 even under a permissive umask, and replaces a stale socket file', async () => {
    expect((await stat(socketPath)).mode & 0o777).toBe(0o600);
    await server?.destroy();
    server = undefined;
    await leaveStaleSocket(socketPath);
    expect((await stat(socketPath)).isSocket()).toBe(true);
    const previous = process.umask(0);
    try {
      await startAgent();
    } finally {
      process.umask(previous);
    }
    expect((await stat(socketPath)).mode & 0o777).toBe(0o600);
    expectEmptySuccess(await cni({ CNI_COMMAND: 'STATUS' }, netconf('1.1.0')));
  });
});

describe('malformed input gives CNI error JSON with the right code', () => {
  const good = (): Record<string, unknown> => netconf('1.0.0');
  const without = (key: string): Record<string, unknown> =>
    Object.fromEntries(Object.entries(good()).filter(([k]) => k !== key));
  const add = (over: Record<string, string | undefined> = {}): Record<string, string> => {
    const env: Record<string, string | undefined> = { ...attachEnv('ADD', 'm1'), ...over };
    return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  };
  const cases: {
    name: string;
    env: Record<string, string>;
    stdin: unknown;
    code: number;
    version?: string;
  }[] = [
    { name: 'no CNI_COMMAND', env: add({ CNI_COMMAND: undefined }), stdin: good(), code: 4 },
    { name: 'unknown CNI_COMMAND', env: add({ CNI_COMMAND: 'FROB' }), stdin: good(), code: 4 },
    { name: 'ADD without CNI_CONTAINERID', env: add({ CNI_CONTAINERID: undefined }), stdin: good(), code: 4 },
    { name: 'ADD without CNI_IFNAME', env: add({ CNI_IFNAME: undefined }), stdin: good(), code: 4 },
    { name: 'ADD without CNI_NETNS', env: add({ CNI_NETNS: undefined }), stdin: good(), code: 4 },
    { name: 'container id with a slash', env: add({ CNI_CONTAINERID: '../etc' }), stdin: good(), code: 4 },
    { name: 'interface name too long', env: add({ CNI_IFNAME: 'eth0123456789012' }), stdin: good(), code: 4 },
    { name: 'CNI_ARGS pair without =', env: add({ CNI_ARGS: 'K8S_POD_NAME' }), stdin: good(), code: 4 },
    { name: 'ADD with empty CNI_ARGS', env: add({ CNI_ARGS: '' }), stdin: good(), code: 4 },
    {
      name: 'control character in CNI_IFNAME',
      env: add({ CNI_IFNAME: 'eth\u00010' }),
      stdin: good(),
      code: 4,
    },
    {
      name: 'ADD without K8S_POD_NAME',
      env: add({ CNI_ARGS: 'K8S_POD_NAMESPACE=ns' }),
      stdin: good(),
      code: 4,
    },
    {
      name: 'control character in CNI_ARGS',
      env: add({ CNI_ARGS: 'K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p\u0001' }),
      stdin: good(),
      code: 4,
    },
    { name: 'broken JSON', env: add(), stdin: '{"cniVersion": "1.0.0", "name":', code: 6 },
    { name: 'empty stdin', env: add(), stdin: '', code: 6 },
    { name: 'JSON that is not an object', env: add(), stdin: '["1.0.0"]', code: 6 },
    { name: 'missing cniVersion', env: add(), stdin: without('cniVersion'), code: 7 },
    { name: 'cniVersion not a string', env: add(), stdin: { ...good(), cniVersion: 1 }, code: 7 },
    { name: 'unknown cniVersion', env: add(), stdin: { ...good(), cniVersion: '9.9.9' }, code: 1 },
    { name: 'too old cniVersion', env: add(), stdin: { ...good(), cniVersion: '0.2.0' }, code: 1 },
    { name: 'missing name', env: add(), stdin: without('name'), code: 7, version: '1.0.0' },
    {
      name: 'ipam not an object',
      env: add(),
      stdin: { ...good(), ipam: 'eni-ipam' },
      code: 7,
      version: '1.0.0',
    },
    {
      name: 'ipam.socket not a string',
      env: add(),
      stdin: { ...good(), ipam: { socket: 5 } },
      code: 7,
      version: '1.0.0',
    },
    {
      name: 'negative ipam.addTimeoutSeconds',
      env: add(),
      stdin: { ...good(), ipam: { addTimeoutSeconds: -1 } },
      code: 7,
      version: '1.0.0',
    },
    {
      name: 'CHECK without prevResult',
      env: add({ CNI_COMMAND: 'CHECK' }),
      stdin: good(),
      code: 7,
      version: '1.0.0',
    },
    {
      name: 'prevResult.ips not a list',
      env: add({ CNI_COMMAND: 'CHECK' }),
      stdin: { ...good(), prevResult: { ips: 'x' } },
      code: 7,
      version: '1.0.0',
    },
    {
      name: 'valid-attachments not a list',
      env: { CNI_COMMAND: 'GC' },
      stdin: { ...good(), cniVersion: '1.1.0', 'cni.dev/valid-attachments': {} },
      code: 7,
    },
  ];

  it('for every case in the table (run concurrently)', async () => {
    const results = await Promise.all(cases.map((c) => cni(c.env, c.stdin)));
    results.forEach((r, i) => {
      const c = cases[i]!;
      expect({ name: c.name, code: r.code }).toEqual({ name: c.name, code: 1 });
      const body = expectCniError(r, c.code, c.version ?? '1.1.0');
      expect(
        Object.keys(body).every((k) => ['cniVersion', 'code', 'msg', 'details'].includes(k)),
        c.name,
      ).toBe(true);
    });
    expect(backend.calls).toEqual([]);
  });
});

describe('fuzzed invocations of the real binary', () => {
  it('always exit 0 or 1 with CNI output (a sample of the in-process fuzz, spawned)', async () => {
    const paths = { socket: socketPath, missingSocket: join(dir, 'nobody.sock'), spool: spoolPath };
    const samples = fc.sample(pluginInvocation(paths), { numRuns: 24, seed: 424242 });
    for (let i = 0; i < samples.length; i += 6) {
      const batch = samples.slice(i, i + 6);
      const results = await Promise.all(batch.map((s) => execPlugin(plugin.main, s.env, s.stdin)));
      results.forEach((r, j) => {
        expect(() => {
          checkPluginOutput(r.code, r.stdout);
        }, JSON.stringify(batch[j])).not.toThrow();
      });
    }
  });
});

interface RawListener {
  respondWith(fn: (line: string) => string | undefined): Promise<void>;
  close(): Promise<void>;
}

/** A socket file nobody listens on, as a SIGKILLed agent leaves it (a clean close unlinks it). */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, [
    '-e',
    `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.stdout.write('up'))`,
  ]);
  await new Promise<void>((resolve) =>
    child.stdout.once('data', () => {
      resolve();
    }),
  );
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  child.kill('SIGKILL');
  await exited;
}

/** A socket peer that is not a CniServer: answers each request line with `fn` (or never). */
async function listenRaw(path: string, fn: (line: string) => string | undefined): Promise<RawListener> {
  let respond = fn;
  const sockets = new Set<Socket>();
  const raw: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = '';
    socket.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      if (!buf.includes('\n')) return;
      const answer = respond(buf);
      if (answer !== undefined) socket.end(answer);
    });
  });
  await new Promise<void>((resolve) => raw.listen(path, resolve));
  return {
    respondWith: (next) => {
      respond = next;
      return Promise.resolve();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) =>
        raw.close(() => {
          resolve();
        }),
      );
    },
  };
}
