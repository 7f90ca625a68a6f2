import type * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CriDecodeError,
  decodeListPodSandboxResponse,
  decodePodSandboxStatusResponse,
} from '../../agent/runtime/cri-codec.js';
import { readySandboxes } from '../../agent/runtime/runtime-sandboxes.js';
import { systemClock } from '../../time/clock.js';
import {
  fakeRuntime as fakeRuntimeOf,
  serveCri,
  type CriHandlers,
  type FakeSandbox,
} from './fakes/fake-cri-runtime.js';

let dir: string;
let server: grpc.Server | undefined;
let socketPath: string;
const listRequests: unknown[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eni-ipam-h12-cri-'));
  socketPath = join(dir, 'cri.sock');
  listRequests.length = 0;
});

afterEach(async () => {
  server?.forceShutdown();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

const fakeRuntime = (sandboxes: FakeSandbox[]): CriHandlers => fakeRuntimeOf(() => sandboxes, listRequests);

async function serve(handlers: CriHandlers): Promise<void> {
  server = await serveCri(socketPath, handlers);
}

const read = (timeoutMs = 2000) => readySandboxes({ socketPath, clock: systemClock, timeoutMs });

describe('readySandboxes over a CRI RuntimeService', () => {
  it('lists the READY sandboxes with their pod and every address they report', async () => {
    await serve(
      fakeRuntime([
        {
          id: 'sb-a',
          metadata: { name: 'web-0', uid: 'uid-a', namespace: 'shop', attempt: 2 },
          state: 'SANDBOX_READY',
          network: { ip: '10.0.1.5', additional_ips: [{ ip: 'fd00::5' }] },
        },
        {
          id: 'sb-b',
          metadata: { name: 'old', uid: 'uid-b', namespace: 'shop' },
          state: 'SANDBOX_NOTREADY',
          network: { ip: '10.0.1.6' },
        },
        // Setting up: no address yet.
        { id: 'sb-c', metadata: { name: 'new', uid: 'uid-c', namespace: 'default' }, state: 'SANDBOX_READY' },
      ]),
    );
    const sandboxes = await read();
    expect(sandboxes).toEqual([
      { uid: 'uid-a', namespace: 'shop', name: 'web-0', ips: ['10.0.1.5', 'fd00::5'] },
      { uid: 'uid-c', namespace: 'default', name: 'new', ips: [] },
    ]);
    // The filter asked the runtime for READY sandboxes only.
    expect(listRequests).toEqual([{ filter: { state: {} } }]);
  });

  it('leaves out a sandbox removed between the list and its status', async () => {
    await serve(
      fakeRuntime([
        {
          id: 'sb-a',
          metadata: { name: 'a', uid: 'uid-a', namespace: 'n' },
          state: 'SANDBOX_READY',
          vanishes: true,
        },
        {
          id: 'sb-b',
          metadata: { name: 'b', uid: 'uid-b', namespace: 'n' },
          state: 'SANDBOX_READY',
          network: { ip: '10.0.1.7' },
        },
      ]),
    );
    expect(await read()).toEqual([{ uid: 'uid-b', namespace: 'n', name: 'b', ips: ['10.0.1.7'] }]);
  });

  it('leaves out what is not an address and sandboxes without a pod uid', async () => {
    await serve(
      fakeRuntime([
        {
          id: 'sb-a',
          metadata: { name: 'a', uid: 'uid-a', namespace: 'n' },
          state: 'SANDBOX_READY',
          network: { ip: 'not-an-ip', additional_ips: [{ ip: '10.0.1.8' }] },
        },
        {
          id: 'sb-x',
          metadata: { name: 'x', uid: '', namespace: 'n' },
          state: 'SANDBOX_READY',
          network: { ip: '10.0.1.9' },
        },
      ]),
    );
    expect(await read()).toEqual([{ uid: 'uid-a', namespace: 'n', name: 'a', ips: ['10.0.1.8'] }]);
  });

  it('fails when no runtime listens on the socket', async () => {
    await expect(read()).rejects.toThrow(/UNAVAILABLE|No connection|ENOENT/i);
  });

  it('fails when the runtime does not implement the calls', async () => {
    await serve({});
    await expect(read()).rejects.toThrow(/UNIMPLEMENTED/);
  });

  it('fails after its deadline when the runtime does not answer', async () => {
    await serve({
      ListPodSandbox: () => undefined, // never answers
      PodSandboxStatus: () => undefined,
    });
    const started = Date.now();
    await expect(read(300)).rejects.toThrow(/DEADLINE_EXCEEDED|Deadline/i);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('the CRI codec', () => {
  it('skips fields it does not read, of every wire type', () => {
    // PodSandboxStatusResponse{status{ id "s", created_at(4) varint, linux(6) bytes, network{ip}},
    // timestamp(4) varint, a fixed64 field 9 and a fixed32 field 10}.
    const network = Buffer.from([0x0a, 0x08, ...Buffer.from('10.0.0.1')]);
    const status = Buffer.from([
      0x0a,
      0x01,
      0x73,
      0x20,
      0x96,
      0x01,
      0x32,
      0x02,
      0x08,
      0x01,
      0x2a,
      network.length,
      ...network,
    ]);
    const response = Buffer.from([
      0x0a,
      status.length,
      ...status,
      0x20,
      0x05,
      0x49,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      0x55,
      1,
      2,
      3,
      4,
    ]);
    expect(decodePodSandboxStatusResponse(response)).toEqual({
      id: 's',
      metadata: undefined,
      state: 0,
      ips: ['10.0.0.1'],
    });
  });

  it.each([
    ['a length past the end', Buffer.from([0x0a, 0x05, 0x01])],
    ['a truncated varint', Buffer.from([0x0a, 0x80])],
    ['a group wire type', Buffer.from([0x0b])],
    ['field number 0', Buffer.from([0x02, 0x00])],
    ['items that are not a message', Buffer.from([0x08, 0x01])],
  ])('refuses %s with a clear error', (_name, bytes) => {
    expect(() => decodeListPodSandboxResponse(bytes)).toThrow(CriDecodeError);
  });
});
