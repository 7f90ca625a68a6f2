import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kubeConfigForServer } from '../../agent/kube/kubeconfig.js';
import {
  countContenders,
  nodeLeaseFacts,
  LeaseRecentNodes,
  NODE_LEASE_NAMESPACE,
  RECENT_NODES_REFRESH_MS,
} from '../../agent/kube/recent-nodes.js';
import { silentLogger } from '../../agent/logger.js';
import { CONTENDER_WINDOW_MS } from '../../provider/limiter.js';
import { ManualClock } from '../../time/manual-clock.js';
import { FakeApiServer } from './kube-fake-api-server.js';

const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${NODE_LEASE_NAMESPACE}/leases`;
const NOW = Date.UTC(2026, 0, 1, 12);

function lease(name: string, createdMinutesAgo: number) {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace: NODE_LEASE_NAMESPACE,
      creationTimestamp: new Date(NOW - createdMinutesAgo * 60_000).toISOString(),
    },
  };
}

describe('countContenders', () => {
  const facts = (node: string, createdAgoMs: number, expiresInMs?: number) => ({
    node,
    createdAt: NOW - createdAgoMs,
    expiresAt: expiresInMs === undefined ? undefined : NOW + expiresInMs,
  });
  it.each([
    { what: 'nobody listed: this node alone', nodes: [], settled: [], expected: { recent: 1, settled: 0 } },
    {
      what: 'recent nodes, one settled',
      nodes: [facts('a', 0, 30_000), facts('b', 60_000, 30_000), facts('c', 120_000)],
      settled: ['b'],
      expected: { recent: 3, settled: 1 },
    },
    {
      what: 'a node whose Lease had expired when listed (it died) counts for nothing',
      nodes: [facts('a', 0, 30_000), facts('dead', 60_000, -1), facts('b', 0)],
      settled: ['dead'],
      expected: { recent: 2, settled: 0 },
    },
    {
      what: 'nodes older than the window, settled or not, count for nothing',
      nodes: [facts('a', 0), facts('old', CONTENDER_WINDOW_MS), facts('older', 2 * CONTENDER_WINDOW_MS)],
      settled: ['old', 'a'],
      expected: { recent: 1, settled: 1 },
    },
  ])('$what', ({ nodes, settled, expected }) => {
    expect(countContenders(nodes, new Set(settled), NOW, NOW)).toEqual(expected);
  });

  it.each([
    { createdAgoMs: [], expected: 1 },
    { createdAgoMs: [0, 1_000, 60_000], expected: 3 },
    { createdAgoMs: [0, CONTENDER_WINDOW_MS - 1, CONTENDER_WINDOW_MS, 3_600_000], expected: 2 },
  ])('counts $expected recent of $createdAgoMs (at least this node)', ({ createdAgoMs, expected }) => {
    const nodes = createdAgoMs.map((ago, i) => facts(`n${i}`, ago));
    expect(countContenders(nodes, new Set(), NOW, NOW).recent).toBe(expected);
  });

  it('reads creation, renewal and duration from the node Leases', () => {
    const renewed = new Date(NOW - 5_000).toISOString();
    expect(
      nodeLeaseFacts([
        {
          metadata: { name: 'a', creationTimestamp: new Date(NOW - 60_000) },
          spec: { holderIdentity: 'a', renewTime: renewed, leaseDurationSeconds: 40 },
        },
        { metadata: { name: 'b', creationTimestamp: new Date(NOW) } },
        { metadata: { name: 'no-time' } },
      ]),
    ).toEqual([
      { node: 'a', createdAt: NOW - 60_000, expiresAt: NOW + 35_000 },
      { node: 'b', createdAt: NOW, expiresAt: undefined },
    ]);
  });
});

describe('LeaseRecentNodes', () => {
  let server: FakeApiServer;
  beforeEach(async () => {
    server = new FakeApiServer();
    server.collection(LEASES, 'LeaseList');
    await server.start();
  });
  afterEach(async () => {
    await server.stop();
  });

  it('counts the node leases created within the window, ages the count, and lists again for nodes that joined since', async () => {
    for (let i = 0; i < 40; i++) server.add(LEASES, lease(`new-${i}`, 1));
    for (let i = 0; i < 5; i++) server.add(LEASES, lease(`old-${i}`, 600));
    const clock = new ManualClock(NOW);
    const nodes = new LeaseRecentNodes({
      kubeConfig: kubeConfigForServer(server.url),
      clock,
      log: silentLogger(),
    });
    expect(nodes.count().recent).toBe(1);
    await nodes.start();
    expect(nodes.count().recent).toBe(40);
    expect(server.lists(LEASES)[0]?.query.get('resourceVersion')).toBe('0');

    server.add(LEASES, lease('later', 0));
    await clock.advance(RECENT_NODES_REFRESH_MS);
    for (let i = 0; i < 100 && server.lists(LEASES).length < 2; i++)
      await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 100 && nodes.count().recent !== 41; i++) await new Promise((r) => setTimeout(r, 5));
    expect(nodes.count().recent).toBe(41);

    // Past the window the scale-up is over: the node counts as alone again.
    await clock.advance(CONTENDER_WINDOW_MS);
    expect(nodes.count().recent).toBe(1);
    await nodes.close();
  });

  it('counts this node alone when the leases cannot be listed', async () => {
    await server.stop();
    const nodes = new LeaseRecentNodes({
      kubeConfig: kubeConfigForServer(server.url),
      clock: new ManualClock(NOW),
      log: silentLogger(),
    });
    await nodes.start();
    expect(nodes.count().recent).toBe(1);
    await nodes.close();
    server = new FakeApiServer();
    await server.start();
  });
});
