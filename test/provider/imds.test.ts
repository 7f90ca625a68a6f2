import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../time/clock.js';
import { ManualClock } from '../../time/manual-clock.js';
import { ImdsV2Source } from '../../provider/imds.js';

interface Seen {
  method: string;
  url: string;
  token: string | undefined;
  ttl: string | undefined;
}

/** A tiny IMDSv2: token PUT, GETs only with a valid token, 404 for unknown paths. */
class FakeImds {
  readonly seen: Seen[] = [];
  tokens = new Set<string>();
  issued = 0;
  /** Paths that never answer (to exercise the timeout). */
  hang = new Set<string>();
  failNext = 0;
  private server: Server | undefined;

  constructor(private readonly values: Record<string, string>) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const header = (name: string): string | undefined => {
      const value = req.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    this.seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      token: header('x-aws-ec2-metadata-token'),
      ttl: header('x-aws-ec2-metadata-token-ttl-seconds'),
    });
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (header('x-aws-ec2-metadata-token-ttl-seconds') === undefined) return void res.writeHead(400).end();
      const token = `token-${++this.issued}`;
      this.tokens.add(token);
      return void res.writeHead(200).end(token);
    }
    const path = (req.url ?? '').replace('/latest/meta-data/', '');
    if (this.hang.has(path)) return;
    if (this.failNext > 0) {
      this.failNext--;
      return void res.writeHead(500).end();
    }
    const token = header('x-aws-ec2-metadata-token');
    if (token === undefined || !this.tokens.has(token)) return void res.writeHead(401).end();
    const value = this.values[path];
    if (value === undefined) return void res.writeHead(404).end();
    res.writeHead(200).end(value);
  }
}

describe('ImdsV2Source against a local HTTP server', () => {
  let imds: FakeImds | undefined;
  afterEach(async () => {
    await imds?.stop();
  });

  it('PUTs a token with its TTL, then GETs meta-data with it, reusing the token', async () => {
    imds = new FakeImds({ 'instance-id': 'i-1', 'placement/availability-zone': 'us-east-1a' });
    const endpoint = await imds.start();
    const source = new ImdsV2Source({ clock: systemClock, random: () => 0.5, endpoint: `${endpoint}/` });

    expect(await source.get('instance-id')).toBe('i-1');
    expect(await source.get('/placement/availability-zone')).toBe('us-east-1a');
    expect(await source.get('no/such/path')).toBeUndefined();

    expect(imds.seen).toEqual([
      { method: 'PUT', url: '/latest/api/token', token: undefined, ttl: '21600' },
      { method: 'GET', url: '/latest/meta-data/instance-id', token: 'token-1', ttl: undefined },
      {
        method: 'GET',
        url: '/latest/meta-data/placement/availability-zone',
        token: 'token-1',
        ttl: undefined,
      },
      { method: 'GET', url: '/latest/meta-data/no/such/path', token: 'token-1', ttl: undefined },
    ]);
  });

  it('refreshes the token before it expires', async () => {
    imds = new FakeImds({ 'instance-id': 'i-1' });
    const endpoint = await imds.start();
    const clock = new ManualClock();
    const source = new ImdsV2Source({ clock, random: () => 0.5, endpoint, tokenTtlSeconds: 300 });

    await source.get('instance-id');
    await clock.advance(200_000);
    await source.get('instance-id');
    await clock.advance(50_000); // 250 s: inside the last minute of a 300 s token
    await source.get('instance-id');

    expect(imds.seen.filter((s) => s.method === 'GET').map((s) => s.token)).toEqual([
      'token-1',
      'token-1',
      'token-2',
    ]);
  });

  it('fetches a new token when IMDS answers 401 (it forgot ours)', async () => {
    imds = new FakeImds({ 'instance-id': 'i-1' });
    const endpoint = await imds.start();
    const source = new ImdsV2Source({ clock: systemClock, random: () => 0.5, endpoint });
    await source.get('instance-id');
    imds.tokens.clear();

    expect(await source.get('instance-id')).toBe('i-1');
    expect(imds.seen.map((s) => `${s.method} ${s.token ?? '-'}`)).toEqual([
      'PUT -',
      'GET token-1',
      'GET token-1',
      'PUT -',
      'GET token-2',
    ]);
  });

  it('retries a 5xx answer', async () => {
    imds = new FakeImds({ 'instance-id': 'i-1' });
    const endpoint = await imds.start();
    const source = new ImdsV2Source({ clock: systemClock, random: () => 0, endpoint });
    imds.failNext = 1;
    expect(await source.get('instance-id')).toBe('i-1');
  });

  it('times out a request without an answer on the injected clock', async () => {
    imds = new FakeImds({});
    imds.hang.add('instance-id');
    const endpoint = await imds.start();
    const clock = new ManualClock();
    const source = new ImdsV2Source({ clock, random: () => 0, endpoint, timeoutMs: 1_000 });

    const result = source.get('instance-id').then(
      () => 'answered',
      (err: unknown) => (err as Error).name,
    );
    // Real sockets answer in real time: wait until each request is in, then move simulated time.
    for (let attempt = 1; attempt <= 3; attempt++) {
      while (imds.seen.filter((s) => s.method === 'GET').length < attempt) await systemClock.sleep(5);
      await clock.advance(1_000);
    }
    expect(await result).toBe('TimeoutError');
    expect(imds.seen.filter((s) => s.method === 'GET')).toHaveLength(3);
  });
});
