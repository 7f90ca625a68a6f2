import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { formatBindAddress } from '../../agent/introspection/http-listener.js';
import {
  DEFAULT_INTROSPECTION_BIND,
  IntrospectionServer,
} from '../../agent/introspection/introspection-server.js';
import { readiness } from '../../agent/introspection/views.js';
import { RecentCniRequests } from '../../agent/metrics/cni-request-timing.js';
import { FakeIntrospectionSource } from './introspection-fake.js';

describe('IntrospectionServer', () => {
  const servers: IntrospectionServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers.length = 0;
  });

  async function serve(source = new FakeIntrospectionSource(), onError?: (err: unknown) => void) {
    const server = new IntrospectionServer(source, { host: '127.0.0.1', port: 0 }, onError);
    servers.push(server);
    const { port } = await server.start();
    return { base: `http://127.0.0.1:${port}`, source };
  }

  async function get(url: string): Promise<{ status: number; body: unknown; type: string | null }> {
    const response = await fetch(url);
    return {
      status: response.status,
      body: await response.json(),
      type: response.headers.get('content-type'),
    };
  }

  it('listens on loopback port 61679 by default, as the AWS VPC CNI', () => {
    expect(DEFAULT_INTROSPECTION_BIND).toEqual({ host: '127.0.0.1', port: 61679 });
  });

  it('serves /v1/enis with derived totals', async () => {
    const { base } = await serve();
    const answer = await get(`${base}/v1/enis`);
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('application/json; charset=utf-8');
    expect(answer.body).toEqual({
      enis: [
        expect.objectContaining({
          eniId: 'eni-0aaa',
          deviceIndex: 0,
          addresses: 4,
          assigned: 2,
          cooling: 1,
          free: 1,
        }),
        expect.objectContaining({
          eniId: 'eni-0bbb',
          deviceIndex: 1,
          addresses: 2,
          assigned: 1,
          free: 1,
          busy: true,
        }),
      ],
    });
  });

  it('counts 16 addresses per prefix on /v1/enis', async () => {
    const source = new FakeIntrospectionSource();
    source.eniList = [
      {
        ...source.eniList[0]!,
        secondaryIps: [],
        prefixes: ['10.0.1.16/28', '10.0.1.32/28'],
        assigned: 5,
        cooling: 0,
      },
    ];
    const { base } = await serve(source);
    expect(await get(`${base}/v1/enis`)).toMatchObject({ body: { enis: [{ addresses: 32, free: 27 }] } });
  });

  it('serves /v1/pods, /v1/subnets and /v1/config as the source gives them', async () => {
    const { base, source } = await serve();
    expect((await get(`${base}/v1/pods`)).body).toEqual({ pods: source.podList });
    expect((await get(`${base}/v1/subnets`)).body).toEqual({ subnets: source.subnetList });
    expect((await get(`${base}/v1/config`)).body).toEqual(source.config());
  });

  it('serves /v1/cni-requests from the recent requests the source keeps, and an empty list without them', async () => {
    const recent = new RecentCniRequests(4);
    recent.record('add', 'ok', 0.8124567, 1_000);
    recent.record('del', 'try_again', 12.5, 1_001);
    const source = new FakeIntrospectionSource();
    source.cniRequests = () => recent.list();
    const { base } = await serve(source);
    expect((await get(`${base}/v1/cni-requests`)).body).toEqual({
      requests: [
        { seq: 0, command: 'add', result: 'ok', ms: 0.812, at: 1_000 },
        { seq: 1, command: 'del', result: 'try_again', ms: 12.5, at: 1_001 },
      ],
    });
    const { base: other } = await serve();
    expect((await get(`${other}/v1/cni-requests`)).body).toEqual({ requests: [] });
  });

  it('serves /v1/state in exactly the input format of `eni-ipam plan`', async () => {
    const source = new FakeIntrospectionSource();
    source.pendingAdds = 4;
    const { base } = await serve(source);
    expect((await get(`${base}/v1/state`)).body).toEqual({
      limits: { maxEnis: 3, ipv4PerEni: 10, maxPods: 29, prefixes: false },
      env: { WARM_ENI_TARGET: '1', WARM_IP_TARGET: '0' },
      enis: [
        { id: 'eni-0aaa', primary: true, ips: 4, assigned: 2, cooldown: 1, prefixes: 0 },
        { id: 'eni-0bbb', primary: false, ips: 2, assigned: 1, cooldown: 0, prefixes: 0 },
      ],
      pending: 4,
    });
  });

  it('answers /healthz while the process runs', async () => {
    const { base } = await serve();
    expect(await get(`${base}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('fails /healthz and /readyz while the agent cannot serve CNI calls, and recovers with it', async () => {
    const { base, source } = await serve();
    source.serving = { alive: false, reason: 'state directory /var/run/eni-ipam is gone' };
    expect(await get(`${base}/healthz`)).toMatchObject({
      status: 503,
      body: { status: 'failing', reason: 'state directory /var/run/eni-ipam is gone' },
    });
    expect(await get(`${base}/readyz`)).toMatchObject({
      status: 503,
      body: { ready: false, reason: 'cannot serve CNI calls: state directory /var/run/eni-ipam is gone' },
    });
    source.serving = { alive: true, reason: 'serving CNI calls' };
    expect(await get(`${base}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect((await get(`${base}/readyz`)).status).toBe(200);
  });

  it('keeps a full node ready (ENI limit reached): shortage is no reason to stop serving', async () => {
    const { base, source } = await serve();
    source.ready = {
      firstReconcileDone: true,
      warmTargetMet: false,
      warmTargetInProgress: false,
      blockedReason: 'ENI limit reached (3 of 3)',
    };
    expect(await get(`${base}/readyz`)).toMatchObject({
      status: 200,
      body: { ready: true, reason: 'serving; warm target not met: ENI limit reached (3 of 3)' },
    });
  });

  it('answers /readyz 200 or 503 from the source, and tracks its changes', async () => {
    const { base, source } = await serve();
    expect(await get(`${base}/readyz`)).toMatchObject({
      status: 200,
      body: { ready: true, reason: 'warm target met' },
    });
    source.ready = { firstReconcileDone: false, warmTargetMet: false, warmTargetInProgress: false };
    expect(await get(`${base}/readyz`)).toMatchObject({
      status: 503,
      body: { ready: false, reason: 'start-up reconcile not finished' },
    });
  });

  it('answers 404 JSON for an unknown path, listing the known ones', async () => {
    const { base } = await serve();
    const answer = await get(`${base}/v1/nope`);
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({
      error: 'not found: /v1/nope',
      paths: [
        '/v1/enis',
        '/v1/pods',
        '/v1/subnets',
        '/v1/config',
        '/v1/state',
        '/v1/cni-requests',
        '/healthz',
        '/readyz',
      ],
    });
  });

  it('ignores a query string and a trailing slash', async () => {
    const { base } = await serve();
    expect((await get(`${base}/v1/pods/?verbose=1`)).status).toBe(200);
  });

  it('answers 405 JSON to anything but GET', async () => {
    const { base } = await serve();
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const response = await fetch(`${base}/v1/enis`, { method });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('GET');
      expect(await response.json()).toEqual({ error: `method not allowed: ${method}; use GET` });
    }
  });

  it('answers 500 JSON when the source throws, reports it, and keeps serving', async () => {
    const source = new FakeIntrospectionSource();
    const errors: unknown[] = [];
    const { base } = await serve(source, (err) => errors.push(err));
    source.pods = () => {
      throw new Error('datastore locked');
    };
    expect(await get(`${base}/v1/pods`)).toMatchObject({
      status: 500,
      body: { error: 'internal error: datastore locked' },
    });
    expect(errors).toHaveLength(1);
    expect((await get(`${base}/v1/enis`)).status).toBe(200);
  });

  it('closes cleanly after serving a kept-alive connection', async () => {
    const { base } = await serve();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${base}/healthz`,
        { agent: false, headers: { connection: 'keep-alive' } },
        (res) => {
          res.resume();
          res.on('end', () => {
            resolve(res.statusCode ?? 0);
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    await servers[0]!.close();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
  it('closes at once even with a client connected that never sent a request', async () => {
    const { base } = await serve();
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const closedSocket = new Promise<void>((resolve) =>
      socket.once('close', () => {
        resolve();
      }),
    );
    await servers[0]!.close();
    await closedSocket;
  });
});

describe('readiness', () => {
  it.each([
    [
      { firstReconcileDone: false, warmTargetMet: true, warmTargetInProgress: false },
      false,
      'start-up reconcile not finished',
    ],
    [{ firstReconcileDone: true, warmTargetMet: true, warmTargetInProgress: false }, true, 'warm target met'],
    [
      { firstReconcileDone: true, warmTargetMet: false, warmTargetInProgress: true },
      true,
      'warm target being met',
    ],
    [
      { firstReconcileDone: true, warmTargetMet: false, warmTargetInProgress: false },
      true,
      'serving; warm target not met',
    ],
    [
      {
        firstReconcileDone: true,
        warmTargetMet: false,
        warmTargetInProgress: false,
        blockedReason: 'subnet-2 is full',
      },
      true,
      'serving; warm target not met: subnet-2 is full',
    ],
    [
      {
        firstReconcileDone: true,
        warmTargetMet: true,
        warmTargetInProgress: false,
        serving: { alive: false, reason: 'CNI socket /run/x.sock is gone' },
      },
      false,
      'cannot serve CNI calls: CNI socket /run/x.sock is gone',
    ],
  ])('%j -> ready %s', (status, ready, reason) => {
    expect(readiness(status)).toEqual({ ready, reason });
  });
});

describe('formatBindAddress', () => {
  it.each([
    [{ host: '127.0.0.1', port: 61679 }, '127.0.0.1:61679'],
    [{ host: undefined, port: 61678 }, ':61678'],
    [{ host: '::1', port: 61679 }, '[::1]:61679'],
  ])('%j -> %s', (address, text) => {
    expect(formatBindAddress(address)).toBe(text);
  });
});
