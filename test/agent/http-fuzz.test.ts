/**
 * No request may end or wedge the agent: raw request lines, headers and bodies thrown at the
 * metrics and introspection servers, each followed by a check that both still answer.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntrospectionServer } from '../../agent/introspection/introspection-server.js';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import { MetricsServer } from '../../agent/metrics/metrics-server.js';
import { FakeIntrospectionSource } from './introspection-fake.js';

const snapshot = { maxEnis: 3, maxIps: 27, maxPods: 29, enis: [], waitingAdds: 0, subnets: [] };
const SEED = 12;
const ROUNDS = 300;

/** mulberry32: a seeded generator, so a failing round can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'CONNECT',
  'TRACE',
  'G\u0000T',
  'get',
  '',
];
const TARGETS = [
  '//x:99999',
  '//[',
  '/metrics',
  '/v1/config',
  '/healthz',
  '*',
  'http://[',
  'http://x:99999/metrics',
  'http://localhost/v1/enis',
  '/%',
  '/%zz/../',
  '//',
  '/..',
  '/metrics?x=%',
  '/v1/pods#frag',
  '\u00ff\u00fe',
  '/'.repeat(9000),
  '/' + 'a'.repeat(20_000),
];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/x', '', 'HTTP/1.1 extra'];
const HEADERS = [
  'Host: x',
  'Host: [',
  'Content-Length: -1',
  'Content-Length: 99999999999',
  'Content-Length: 5',
  'Content-Length: 1\r\nContent-Length: 2',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip, chunked',
  'Expect: 100-continue',
  'Connection: Upgrade\r\nUpgrade: websocket',
  'X-Null: a\u0000b',
  `X-Big: ${'b'.repeat(20_000)}`,
  'no colon here',
  ': empty name',
];

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)]!;
}

function rawRequest(next: () => number): Buffer {
  if (next() < 0.1)
    return Buffer.from(Array.from({ length: Math.floor(next() * 300) }, () => Math.floor(next() * 256)));
  const headers = Array.from({ length: Math.floor(next() * 4) }, () => pick(next, HEADERS));
  const body =
    next() < 0.5
      ? ''
      : next() < 0.5
        ? '5\r\nhello\r\nzz\r\n'
        : String.fromCharCode(...Array.from({ length: 64 }, () => Math.floor(next() * 256)));
  const head = `${pick(next, METHODS)} ${pick(next, TARGETS)} ${pick(next, VERSIONS)}\r\n${headers.join('\r\n')}${headers.length ? '\r\n' : ''}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body, 'latin1')]);
}

/** Sends raw bytes; resolves with whatever came back when the server closes or after a short while. */
function send(port: number, bytes: Buffer, endAfter: boolean): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, 300);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', done);
    socket.write(bytes, () => {
      if (endAfter) socket.end();
    });
  });
}

describe('the metrics and introspection servers survive any request', () => {
  const errors: unknown[] = [];
  let metrics: MetricsServer;
  let introspection: IntrospectionServer;
  let ports: { metrics: number; introspection: number };

  beforeAll(async () => {
    metrics = new MetricsServer(
      new AgentMetrics({ snapshot: () => snapshot }),
      { host: '127.0.0.1', port: 0 },
      (e) => errors.push(e),
    );
    introspection = new IntrospectionServer(
      new FakeIntrospectionSource(),
      { host: '127.0.0.1', port: 0 },
      (e) => errors.push(e),
    );
    ports = { metrics: (await metrics.start()).port, introspection: (await introspection.start()).port };
  });
  afterAll(async () => {
    await metrics.close();
    await introspection.close();
  });

  async function stillServing(): Promise<void> {
    expect((await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.introspection}/healthz`)).status).toBe(200);
  }

  for (const target of ['//x:99999', '//[']) {
    it(`GET ${target} is answered (not found), not the end of the process`, async () => {
      for (const port of [ports.metrics, ports.introspection]) {
        const answer = await send(port, Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`), false);
        expect(answer).toMatch(/^HTTP\/1\.1 404 /);
      }
      await stillServing();
    });
  }

  it(`${ROUNDS} seeded raw requests (seed ${SEED}) to each server leave both serving`, async () => {
    const next = random(SEED);
    let sent = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const bytes = rawRequest(next);
      const endAfter = next() < 0.5;
      await Promise.all([send(ports.metrics, bytes, endAfter), send(ports.introspection, bytes, endAfter)]);
      sent += 2;
      if (round % 25 === 0) await stillServing();
    }
    await stillServing();
    expect(sent).toBe(ROUNDS * 2);
    // Nothing a client sent made a handler fail: every bad request was answered as such.
    expect(errors).toEqual([]);
  });
});

describe('an unhandled rejection', () => {
  it('is logged and counted, and the process keeps running', async () => {
    const script = `
      import { guardUnhandledRejections } from './dist/agent/process-guards.js';
      let counted = 0;
      const logged = [];
      guardUnhandledRejections({ error: (obj, msg) => logged.push(msg) }, () => counted++);
      void Promise.reject(new Error('stray'));
      setTimeout(() => { console.log(JSON.stringify({ alive: true, counted, logged })); }, 50);
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
    });
    expect(JSON.parse(stdout)).toEqual({
      alive: true,
      counted: 1,
      logged: ['unhandled promise rejection (a bug); the agent keeps running'],
    });
  });
});
