/**
 * The plugin's logic in-process: deadlines on a ManualClock against a peer that never answers,
 * CNI_ARGS parsing, result shapes, and the wire protocol's round trip.
 */
import fc from 'fast-check';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCniArgs } from '../../cni/env.js';
import { runPlugin, type PluginOutput } from '../../cni/plugin.js';
import {
  encodeRequest,
  encodeResponse,
  parseRequest,
  parseResponse,
  type AgentRequest,
  type AgentResponse,
} from '../../cni/protocol.js';
import { parseSpoolLine } from '../../cni/release-spool-file.js';
import { addResultJson } from '../../cni/result.js';
import { CniError } from '../../cni/spec.js';
import { DEL_TIMEOUT_MS } from '../../cni/timeouts.js';
import { ManualClock } from '../../time/manual-clock.js';

let dir: string;
let socketPath: string;
let spoolPath: string;
let silent: Server;
const held: Socket[] = [];
let requests: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eni-ipam-plugin-'));
  socketPath = join(dir, 'ipam.sock');
  spoolPath = join(dir, 'spool.jsonl');
  requests = [];
  // An agent that reads the request and never answers (stuck, or dying mid-request).
  silent = createServer((socket) => {
    held.push(socket);
    socket.setEncoding('utf8').on('data', (d: string) => requests.push(d));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(socketPath, resolve));
});

afterEach(async () => {
  for (const s of held.splice(0)) s.destroy();
  await new Promise<void>((resolve) =>
    silent.close(() => {
      resolve();
    }),
  );
  await rm(dir, { recursive: true, force: true });
});

const conf = (v = '1.1.0', ipam: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: v, name: 'aws-cni', ipam: { socket: socketPath, spoolPath, ...ipam } });
const env = (command: string): Record<string, string> => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'stuck',
  CNI_IFNAME: 'eth0',
  CNI_NETNS: '/ns',
  CNI_ARGS: 'K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p',
});

/** Starts a plugin run and moves simulated time until it has finished. */
async function runUntilDone(
  clock: ManualClock,
  run: Promise<PluginOutput>,
  stepMs: number,
): Promise<PluginOutput> {
  let out: PluginOutput | undefined;
  void run.then((o) => (out = o));
  while (requests.length === 0) await new Promise<void>((r) => setImmediate(r));
  for (let i = 0; i < 100 && out === undefined; i++) await clock.advance(stepMs);
  return run;
}

describe('runPlugin deadlines', () => {
  it('spools a DEL the agent took but never answered, once the DEL deadline passes', async () => {
    const clock = new ManualClock(5_000);
    const run = runPlugin({ env: env('DEL'), readStdin: () => Promise.resolve(conf()), clock });
    const out = await runUntilDone(clock, run, DEL_TIMEOUT_MS / 4);
    expect(out).toMatchObject({ exitCode: 0, stdout: '' });
    expect(out.stderr).toMatch(/no answer from the agent .* within 10000 ms; release recorded/);
    expect(clock.now()).toBe(5_000 + DEL_TIMEOUT_MS);
    const line = (await readFile(spoolPath, 'utf8')).trimEnd();
    expect(parseSpoolLine(line)).toEqual({
      op: 'del',
      containerId: 'stuck',
      ifname: 'eth0',
      network: 'aws-cni',
      pod: { namespace: 'ns', name: 'p' },
      spooledAt: 5_000 + DEL_TIMEOUT_MS,
    });
  });

  it('gives up an ADD with code 11 at ipam.addTimeoutSeconds, not before', async () => {
    const clock = new ManualClock(0);
    const run = runPlugin({
      env: env('ADD'),
      readStdin: () => Promise.resolve(conf('1.0.0', { addTimeoutSeconds: 25 })),
      clock,
    });
    const out = await runUntilDone(clock, run, 1_000);
    expect(clock.now()).toBe(25_000);
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ cniVersion: '1.0.0', code: 11 });
    await expect(readFile(spoolPath)).rejects.toThrow(/ENOENT/);
  });

  it('reports a stdin failure as the CniError it is', async () => {
    const out = await runPlugin({
      env: env('ADD'),
      readStdin: () => Promise.reject(new CniError(6, 'stdin was not closed')),
      clock: new ManualClock(),
    });
    expect(JSON.parse(out.stdout)).toEqual({ cniVersion: '1.1.0', code: 6, msg: 'stdin was not closed' });
  });
});

describe('CNI_ARGS', () => {
  it.each([
    ['', {}],
    ['IgnoreUnknown=1', {}],
    [
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=9f',
      { namespace: 'kube-system', name: 'coredns-1', infraContainerId: 'abc', uid: '9f' },
    ],
    ['K8S_POD_NAME=a=b;;K8S_POD_UID=', { name: 'a=b' }],
  ])('%j', (raw, pod) => {
    expect(parseCniArgs(raw)).toEqual(pod);
  });

  it.each(['K8S_POD_NAME', '=x', 'A=1;B'])('refuses %j with code 4', (raw) => {
    expect(() => parseCniArgs(raw)).toThrow(expect.objectContaining({ code: 4 }));
  });
});

describe('result shapes', () => {
  const result = {
    ips: [{ address: '10.0.1.5/24', gateway: '10.0.1.1' }, { address: 'fd00::5/64' }],
    routes: [],
    dns: { nameservers: ['10.0.0.2'] },
  };
  it('1.x: no version field, no empty routes, dns kept', () => {
    expect(addResultJson(result, '1.1.0')).toEqual({
      cniVersion: '1.1.0',
      ips: [{ address: '10.0.1.5/24', gateway: '10.0.1.1' }, { address: 'fd00::5/64' }],
      dns: { nameservers: ['10.0.0.2'] },
    });
  });
  it('0.4.0: each IP names its family', () => {
    expect(addResultJson(result, '0.4.0').ips).toEqual([
      { version: '4', address: '10.0.1.5/24', gateway: '10.0.1.1' },
      { version: '6', address: 'fd00::5/64' },
    ]);
  });
});

describe('wire protocol', () => {
  const pod = fc.record(
    { namespace: fc.string(), name: fc.string(), uid: fc.string(), infraContainerId: fc.string() },
    { requiredKeys: [] },
  );
  const key = { containerId: fc.string(), ifname: fc.string() };
  const request: fc.Arbitrary<AgentRequest> = fc.oneof(
    fc.record(
      {
        op: fc.constant('add' as const),
        ...key,
        netns: fc.string(),
        network: fc.string(),
        pod,
        annotations: fc.dictionary(fc.string(), fc.string()),
      },
      { requiredKeys: ['op', 'containerId', 'ifname', 'netns', 'network', 'pod'] },
    ),
    fc.record(
      {
        op: fc.constant('del' as const),
        ...key,
        network: fc.string(),
        pod,
        addresses: fc.array(fc.string()),
        spooledAt: fc.integer(),
      },
      { requiredKeys: ['op', 'containerId', 'ifname', 'network', 'pod'] },
    ),
    fc.record({
      op: fc.constant('check' as const),
      ...key,
      network: fc.string(),
      pod,
      addresses: fc.array(fc.string()),
    }),
    fc.record({
      op: fc.constant('gc' as const),
      network: fc.string(),
      validAttachments: fc.array(fc.record(key)),
    }),
    fc.record({ op: fc.constant('status' as const), network: fc.string() }),
  );

  it('parses back every request it encodes', () => {
    // A key that an assignment would turn into a prototype change instead of a property.
    const proto = JSON.parse('{"__proto__": "x"}') as Record<string, string>;
    const withProto: AgentRequest = {
      op: 'add',
      containerId: 'c',
      ifname: 'eth0',
      netns: '/n',
      network: 'n',
      pod: {},
      annotations: proto,
    };
    expect(parseRequest(encodeRequest(withProto).trimEnd())).toEqual({ ok: true, value: withProto });
    fc.assert(
      fc.property(request, (req) => {
        const line = encodeRequest(req);
        expect(line.indexOf('\n')).toBe(line.length - 1);
        expect(parseRequest(line.trimEnd())).toEqual({ ok: true, value: req });
      }),
    );
  });

  it('parses back responses, and never throws on arbitrary input', () => {
    const responses: AgentResponse[] = [
      {
        v: 1,
        ok: true,
        op: 'add',
        result: { ips: [{ address: '10.0.0.9/20', gateway: '10.0.0.1' }], routes: [] },
      },
      { v: 1, ok: true, op: 'gc', released: 3 },
      { v: 1, ok: false, error: { code: 11, msg: 'later', details: 'subnet full' } },
    ];
    for (const r of responses)
      expect(parseResponse(encodeResponse(r).trimEnd())).toEqual({ ok: true, value: r });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((j) => JSON.stringify({ v: 1, ...(j as object) })),
        ),
        (s) => {
          const req = parseRequest(s);
          const res = parseResponse(s);
          expect(typeof req.ok).toBe('boolean');
          expect(typeof res.ok).toBe('boolean');
        },
      ),
      { numRuns: 500 },
    );
  });
});
