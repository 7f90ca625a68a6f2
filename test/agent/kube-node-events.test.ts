import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeApi } from '../../agent/kube/kube-api.js';
import { kubeConfigForServer } from '../../agent/kube/kubeconfig.js';
import { createLogger } from '../../agent/logger.js';
import { EVENT_WRITE_TIMEOUT_MS, KubeNodeEvents } from '../../agent/kube/node-events.js';
import type { Announcement } from '../../agent/shortage-announcer.js';
import { ManualClock } from '../../time/manual-clock.js';
import { FakeApiServer, type KubeObject } from './kube-fake-api-server.js';

const NODE = 'ip-10-0-1-5.ec2.internal';
const EVENTS = '/api/v1/namespaces/default/events';

const limitReached = (count: number): Announcement => ({
  type: 'Warning',
  cause: 'eni-limit',
  message: `the address pool is short and cannot grow: the node is at its ENI limit (${count})`,
  count,
});
const subnetFull: Announcement = {
  type: 'Warning',
  cause: 'subnet-full',
  message: 'the address pool is short and cannot grow: subnet subnet-a is full',
  count: 1,
};
const resolved: Announcement = {
  type: 'Normal',
  cause: 'subnet-full',
  message: 'the address pool can grow again (it was short: subnet-full)',
};

interface Logged {
  msg: string;
  fields: Record<string, unknown>;
}

let server: FakeApiServer;
let clock: ManualClock;
let logged: Logged[];

function sink(): KubeNodeEvents {
  const logger = createLogger({
    level: 'info',
    destination: {
      write: (line: string) => {
        const { msg, ...fields } = JSON.parse(line) as { msg: string } & Record<string, unknown>;
        logged.push({ msg, fields });
      },
    },
  });
  return new KubeNodeEvents({
    nodeName: NODE,
    clock,
    logger,
    api: new KubeApi(kubeConfigForServer(server.url)),
    random: () => 0.5,
  });
}

/** Waits (in real time: the fake server is real HTTP) until the sink's write has finished. */
async function written(events: KubeNodeEvents): Promise<void> {
  await events.idle();
}

beforeEach(async () => {
  server = new FakeApiServer();
  server.collection(EVENTS, 'EventList');
  await server.start();
  clock = new ManualClock(Date.UTC(2026, 11, 6, 4, 0));
  logged = [];
});

afterEach(async () => {
  await server.stop();
});

describe('node events through the Kubernetes API', () => {
  it('writes a Warning on the Node object with a reason per cause, the figures and its source', async () => {
    const events = sink();
    events.record(limitReached(1));
    await written(events);
    const [event] = server.objects(EVENTS);
    expect(event).toMatchObject({
      involvedObject: { kind: 'Node', name: NODE, uid: NODE, apiVersion: 'v1' },
      reason: 'ENILimitReached',
      type: 'Warning',
      count: 1,
      message: 'the address pool is short and cannot grow: the node is at its ENI limit (1)',
      source: { component: 'eni-ipam', host: NODE },
      reportingComponent: 'eni-ipam',
      reportingInstance: NODE,
      firstTimestamp: '2026-12-06T04:00:00.000Z',
      lastTimestamp: '2026-12-06T04:00:00.000Z',
    });
    expect((event as KubeObject).metadata.name).toMatch(
      new RegExp(`^${NODE.replaceAll('.', '\\.')}\\.[0-9a-f]+$`),
    );
  });

  it('a repeat raises the count of the same Event; a new cause writes a new one; the end is a Normal', async () => {
    const events = sink();
    events.record(limitReached(1));
    await written(events);
    await clock.advance(300_000);
    events.record(limitReached(2));
    await written(events);
    expect(server.objects(EVENTS)).toHaveLength(1);
    expect(server.objects(EVENTS)[0]).toMatchObject({
      reason: 'ENILimitReached',
      count: 2,
      firstTimestamp: '2026-12-06T04:00:00.000Z',
      lastTimestamp: '2026-12-06T04:05:00.000Z',
      message: 'the address pool is short and cannot grow: the node is at its ENI limit (2)',
    });
    expect(server.bodies.map((b) => [b.method, b.contentType])).toEqual([
      ['POST', 'application/json'],
      ['PATCH', 'application/json-patch+json'],
    ]);

    events.record(subnetFull);
    await written(events);
    events.record(resolved);
    await written(events);
    expect(server.objects(EVENTS).map((e) => [e['reason'], e['type'], e['count']])).toEqual([
      ['ENILimitReached', 'Warning', 2],
      ['SubnetFull', 'Warning', 1],
      ['AddressPoolShortageResolved', 'Normal', 1],
    ]);
  });

  it('writes a repeat anew when its Event expired', async () => {
    const events = sink();
    events.record(limitReached(1));
    await written(events);
    const [first] = server.objects(EVENTS);
    server.remove(EVENTS, first!);
    events.record(limitReached(2));
    await written(events);
    expect(server.objects(EVENTS)).toMatchObject([{ reason: 'ENILimitReached', count: 2 }]);
  });

  it('an API server that refuses or is down costs a log line, never a throw', async () => {
    const events = sink();
    server.fault(EVENTS, false, { kind: 'status', status: 403 });
    expect(() => {
      events.record(limitReached(1));
    }).not.toThrow();
    await written(events);
    expect(server.objects(EVENTS)).toEqual([]);
    expect(logged.map((l) => l.msg)).toEqual(['node event dropped: the API server did not take it']);
    expect(logged[0]?.fields['reason']).toBe('ENILimitReached');

    await server.stop();
    events.record(subnetFull);
    await written(events);
    expect(logged.map((l) => l.msg)).toHaveLength(2);
    expect(String(logged[1]?.fields['err'])).not.toBe('');
  });

  it('a hung API server: the write is given up after its timeout and events meanwhile are dropped, not queued', async () => {
    const events = sink();
    server.fault(EVENTS, false, { kind: 'hang' });
    events.record(limitReached(1));
    events.record(subnetFull);
    events.record(resolved);
    expect(logged.map((l) => l.msg)).toEqual([
      'node event dropped: the previous event write has not finished',
      'node event dropped: the previous event write has not finished',
    ]);
    await clock.advance(EVENT_WRITE_TIMEOUT_MS);
    await written(events);
    expect(logged.at(-1)?.msg).toBe('node event dropped: the API server did not take it');
    expect(String(logged.at(-1)?.fields['err'])).toMatch(/no answer within 10000 ms/);

    // The next write goes through.
    events.record(subnetFull);
    await written(events);
    expect(server.objects(EVENTS)).toMatchObject([{ reason: 'SubnetFull' }]);
  });
});
