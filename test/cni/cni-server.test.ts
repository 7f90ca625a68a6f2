/**
 * The agent's socket endpoint, driven with raw connections: whatever a client sends, the server
 * answers or drops it and keeps serving. Read deadlines run on a ManualClock.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CniServer } from '../../agent/cni-server.js';
import { MAX_MESSAGE_BYTES, parseResponse, type AgentResponse } from '../../cni/protocol.js';
import { ManualClock, settle } from '../../time/manual-clock.js';
import { FakeBackend } from './fake-backend.js';

let dir: string;
let socketPath: string;
let backend: FakeBackend;
let clock: ManualClock;
let server: CniServer;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eni-ipam-srv-'));
  socketPath = join(dir, 'ipam.sock');
  backend = new FakeBackend(4);
  clock = new ManualClock();
  server = new CniServer({ socketPath, backend, clock, readTimeoutMs: 5_000 });
  await server.start();
});

afterEach(async () => {
  await server.destroy();
  await rm(dir, { recursive: true, force: true });
});

interface Exchange {
  /** Everything the server wrote before closing. */
  reply: Promise<string>;
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>;
  write(data: string | Buffer): void;
  destroy(): void;
}

function connect(): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path: socketPath });
    let data = '';
    const closed = new Promise<void>((r) =>
      socket.once('close', () => {
        r();
      }),
    );
    const reply = closed.then(() => data);
    socket.setEncoding('utf8').on('data', (d: string) => (data += d));
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      resolve({
        reply,
        closed,
        write: (d) => socket.write(d),
        destroy: () => socket.destroy(),
      });
    });
    socket.once('error', reject);
  });
}

async function exchange(line: string): Promise<AgentResponse> {
  const c = await connect();
  c.write(line);
  const text = await c.reply;
  expect(text.endsWith('\n')).toBe(true);
  const parsed = parseResponse(text.trimEnd());
  if (!parsed.ok) throw new Error(`unreadable response ${text}`);
  return parsed.value;
}

const statusLine = '{"v":1,"op":"status","network":"n"}\n';
const addLine = (id: string): string =>
  `${JSON.stringify({ v: 1, op: 'add', containerId: id, ifname: 'eth0', netns: '/ns', network: 'n', pod: { namespace: 'ns', name: 'p' } })}\n`;

describe('CniServer', () => {
  it('answers garbage, foreign versions and bad fields with a protocol error, and keeps serving', async () => {
    const bad = [
      'not json\n',
      '[1,2]\n',
      '{"v":2,"op":"status","network":"n"}\n',
      '{"v":1,"op":"launch"}\n',
      '{"v":1,"op":"add","containerId":5}\n',
      '{"v":1,"op":"gc","network":"n","validAttachments":[{"containerId":"a"}]}\n',
    ];
    for (const line of bad) {
      const res = await exchange(line);
      expect(res, line).toMatchObject({ ok: false, error: { code: 101 } });
    }
    const mismatch = await exchange('{"v":2}\n');
    expect(mismatch.ok ? 'ok' : mismatch.error.msg).toMatch(/protocol version 2, expected 1/);
    expect(await exchange(statusLine)).toEqual({ v: 1, ok: true, op: 'status' });
    expect(backend.calls.map((c) => c.op)).toEqual(['status']);
  });

  it('refuses ids the checkpoint could not store or that could collide: empty, control characters, reserved', async () => {
    const add = (fields: Record<string, unknown>): string =>
      `${JSON.stringify({ v: 1, op: 'add', containerId: 'c1', ifname: 'eth0', netns: '/ns', network: 'n', pod: { namespace: 'ns', name: 'p' }, ...fields })}\n`;
    const refused: [string, string, RegExp][] = [
      ['empty container id', add({ containerId: '' }), /containerId is empty/],
      ['NUL in the container id', add({ containerId: 'c1\u0000x' }), /containerId .* control character/],
      ['newline in the interface', add({ ifname: 'eth0\n' }), /ifname .* control character/],
      ['reserved prefix', add({ containerId: 'eni-ipam:quarantine:10.0.0.1' }), /reserved/],
      ['no pod in CNI_ARGS', add({ pod: {} }), /K8S_POD_NAMESPACE and K8S_POD_NAME/],
      ['empty pod name', add({ pod: { namespace: 'ns', name: '' } }), /K8S_POD_NAME/],
      ['control character in a pod name', add({ pod: { namespace: 'ns', name: 'p\u0001' } }), /pod.name/],
      [
        'NUL in a DEL id',
        `${JSON.stringify({ v: 1, op: 'del', containerId: 'c1\u0000', ifname: 'eth0', network: 'n', pod: {} })}\n`,
        /control character/,
      ],
      [
        'NUL in a GC attachment',
        `${JSON.stringify({ v: 1, op: 'gc', network: 'n', validAttachments: [{ containerId: 'a\u0000', ifname: 'eth0' }] })}\n`,
        /validAttachments\[0\]\.containerId/,
      ],
    ];
    for (const [name, line, message] of refused) {
      const res = await exchange(line);
      expect(res, name).toMatchObject({ ok: false, error: { code: 4 } });
      expect(res.ok ? '' : res.error.msg, name).toMatch(message);
    }
    expect(backend.calls).toEqual([]);
  });

  it('answers an oversized request with an error instead of buffering it', async () => {
    const c = await connect();
    c.write(Buffer.alloc(MAX_MESSAGE_BYTES + 10, 0x61));
    const parsed = parseResponse((await c.reply).trimEnd());
    expect(parsed.ok && parsed.value).toMatchObject({ ok: false, error: { code: 101 } });
    expect(await exchange(statusLine)).toMatchObject({ ok: true });
  });

  it('drops a client that sends no complete request before the read deadline', async () => {
    const c = await connect();
    c.write('{"v":1,"op":"sta');
    let closed = false;
    void c.closed.then(() => (closed = true));
    await clock.advance(4_999);
    await settle();
    expect(closed).toBe(false);
    await clock.advance(1);
    await c.closed;
    expect(await c.reply).toBe('');
    expect(backend.calls).toEqual([]);
  });

  it('turns a backend exception into code 100 and an invalid backend code into 100', async () => {
    backend.throwOn = 'status';
    expect(await exchange(statusLine)).toMatchObject({
      ok: false,
      error: { code: 100, details: 'backend exploded on status' },
    });
    backend.throwOn = undefined;
    backend.status = () => Promise.resolve({ kind: 'failure', cniCode: 0, message: 'zero is success' });
    expect(await exchange(statusLine)).toMatchObject({
      ok: false,
      error: { code: 100, msg: 'zero is success' },
    });
  });

  it('aborts a waiting ADD when its client hangs up', async () => {
    let aborted = false;
    backend.addGate = (signal) =>
      new Promise<void>((_, reject) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('aborted'));
        });
      });
    const c = await connect();
    c.write(addLine('hangup'));
    await waitFor(() => backend.calls.length === 1);
    c.destroy();
    await waitFor(() => aborted);
    expect(backend.assignments.size).toBe(0);
  });

  it('close() stops accepting but answers the ADD already received; destroy() aborts it', async () => {
    let release: () => void = () => undefined;
    backend.addGate = () => new Promise<void>((r) => (release = r));
    const c = await connect();
    c.write(addLine('inflight'));
    await waitFor(() => backend.calls.length === 1);
    const closing = server.close();
    await settle();
    await expect(connect()).rejects.toThrow();
    release();
    await closing;
    const parsed = parseResponse((await c.reply).trimEnd());
    expect(parsed.ok && parsed.value).toMatchObject({ ok: true, op: 'add' });
    await expect(stat(socketPath)).rejects.toThrow(/ENOENT/);

    server = new CniServer({ socketPath, backend, clock });
    await server.start();
    let aborted = false;
    backend.addGate = (signal) =>
      new Promise<void>((_, reject) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('aborted'));
        });
      });
    const d = await connect();
    d.write(addLine('cut'));
    await waitFor(() => backend.calls.length === 2);
    await server.destroy();
    await d.closed;
    expect(aborted).toBe(true);
  });

  it('refuses to start over a live server or a file that is not a socket', async () => {
    const second = new CniServer({ socketPath, backend, clock });
    await expect(second.start()).rejects.toThrow(/another process is serving/);
    expect(await exchange(statusLine)).toMatchObject({ ok: true });

    const file = join(dir, 'regular');
    await writeFile(file, 'keep me');
    const third = new CniServer({ socketPath: file, backend, clock });
    await expect(third.start()).rejects.toThrow(/not a socket/);
    expect((await stat(file)).isFile()).toBe(true);
  });

  it('creates the socket 0600 and its directory when missing', async () => {
    const nested = join(dir, 'a', 'b', 'ipam.sock');
    const s = new CniServer({ socketPath: nested, backend, clock });
    await s.start();
    try {
      expect((await stat(nested)).mode & 0o777).toBe(0o600);
    } finally {
      await s.close();
    }
  });
});

describe('CniServer request timing', () => {
  /** A monotonic clock the test moves; the server reads it when a request is in and when it is out. */
  let monotonic = 0;
  let served: { command: string; result: string; ms: number }[];
  let timed: CniServer;
  let timedPath: string;

  beforeEach(async () => {
    monotonic = 0;
    served = [];
    timedPath = join(dir, 'timed.sock');
    timed = new CniServer({
      socketPath: timedPath,
      backend,
      clock,
      observer: {
        requestServed: (command, result, ms) => served.push({ command, result, ms }),
      },
      monotonicMs: () => monotonic,
    });
    await timed.start();
  });

  afterEach(async () => {
    await timed.destroy();
  });

  async function send(parts: string[]): Promise<string> {
    const socket = createConnection({ path: timedPath });
    let data = '';
    socket.setEncoding('utf8').on('data', (d: string) => (data += d));
    const closed = new Promise<void>((r) => socket.once('close', () => { r(); }));
    await new Promise<void>((r) => socket.once('connect', () => { r(); }));
    for (const [i, part] of parts.entries()) {
      if (i > 0) {
        // The part before has been read by now; time spent before the last byte is not the agent's.
        await new Promise<void>((r) => setTimeout(r, 20));
        monotonic += 7;
      }
      socket.write(part);
    }
    await closed;
    return data;
  }

  it('times a request from its last byte read to its answer written, by command and result', async () => {
    backend.addGate = () => {
      monotonic += 1.5;
      return Promise.resolve();
    };
    const line = addLine('timed');
    const answer = await send([line.slice(0, 40), line.slice(40)]);
    expect(answer).toContain('"ok":true');
    expect(served).toEqual([{ command: 'add', result: 'ok', ms: 1.5 }]);
  });

  it('labels code 11 as try_again, other failures as error, and a request it cannot read as unreadable', async () => {
    backend.add = () => {
      monotonic += 250;
      return Promise.resolve({ kind: 'failure', cniCode: 11, message: 'no free address' });
    };
    await send([addLine('waits')]);
    await send(['{"v":1,"op":"check","containerId":"gone","ifname":"eth0","network":"n","pod":{},"addresses":[]}\n']);
    await send(['not json\n']);
    expect(served).toEqual([
      { command: 'add', result: 'try_again', ms: 250 },
      { command: 'check', result: 'error', ms: 0 },
      { command: 'unreadable', result: 'error', ms: 0 },
    ]);
  });
});

/** Polls real I/O progress (socket events), not time: fails the test if it never happens. */
async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error('condition never became true');
}
