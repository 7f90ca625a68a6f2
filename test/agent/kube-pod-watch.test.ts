import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WATCH_STALL_MS } from '../../agent/intervals.js';
import { kubeConfigForServer } from '../../agent/kube/kubeconfig.js';
import { PodWatch } from '../../agent/kube/pod-watch.js';
import type { RestartReason } from '../../agent/kube/resilient-list-watch.js';
import { silentLogger } from '../../agent/logger.js';
import { ManualClock } from '../../time/manual-clock.js';
import { FakeApiServer, pod } from './kube-fake-api-server.js';

const PODS = '/api/v1/pods';
const NODE = 'node-a';

/** Real HTTP runs in real time; this waits for it (the ManualClock only moves when told). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for: ${what}`);
}

let server: FakeApiServer;
let clock: ManualClock;
let watch: PodWatch;
let abort: AbortController;
let restarts: RestartReason[];

beforeEach(async () => {
  server = new FakeApiServer();
  server.collection(PODS, 'PodList');
  await server.start();
  server.add(PODS, pod('a1', NODE));
  server.add(PODS, pod('b1', 'node-b'));
  clock = new ManualClock();
  restarts = [];
  watch = new PodWatch({
    kubeConfig: kubeConfigForServer(server.url),
    nodeName: NODE,
    clock,
    log: silentLogger(),
    random: () => 0,
    onRestart: (reason) => restarts.push(reason),
  });
  abort = new AbortController();
});

afterEach(async () => {
  abort.abort();
  await watch.close();
  await server.stop();
});

const names = (): string[] =>
  watch
    .list()
    .map((p) => p.name)
    .sort();

async function startSynced(): Promise<void> {
  watch.start(abort.signal);
  await watch.waitUntilSynced();
  await eventually(() => server.openWatches() === 1, 'the watch to open');
}

describe('PodWatch', () => {
  it('sends the node field selector on both the list and the watch', async () => {
    await startSynced();
    const [list] = server.lists(PODS);
    const [w] = server.watchRequests(PODS);
    expect(list!.query.get('fieldSelector')).toBe('spec.nodeName=node-a');
    expect(w!.query.get('fieldSelector')).toBe('spec.nodeName=node-a');
    // The watch resumes from the list's version and asks for bookmarks and a server timeout.
    expect(w!.query.get('resourceVersion')).toBe('102');
    expect(w!.query.get('allowWatchBookmarks')).toBe('true');
    expect(Number(w!.query.get('timeoutSeconds'))).toBeGreaterThan(0);
    expect(names()).toEqual(['a1']);
  });

  it('turns pods into PodRefs and follows adds, updates and deletes of this node only', async () => {
    await startSynced();
    let changes = 0;
    watch.onChange(() => changes++);
    server.add(PODS, pod('a2', NODE, { annotations: { 'k8s.v1.cni.cncf.io/networks': 'x' } }));
    server.add(PODS, pod('b2', 'node-b'));
    await eventually(() => names().includes('a2'), 'a2 to appear');
    expect(names()).toEqual(['a1', 'a2']);
    const a2 = watch.list().find((p) => p.name === 'a2');
    expect(a2).toEqual({
      uid: 'uid-a2',
      namespace: 'default',
      name: 'a2',
      phase: 'Running',
      annotations: { 'k8s.v1.cni.cncf.io/networks': 'x' },
      labels: {},
      ownerReferences: [],
      hostNetwork: false,
      podIps: [],
    });
    // What rebuilds address ownership when the checkpoint is lost: status.podIPs (or podIP alone).
    server.add(PODS, {
      ...pod('a4', NODE),
      status: { phase: 'Running', podIPs: [{ ip: '10.0.0.9' }], podIP: '10.0.0.9' },
    });
    server.add(PODS, { ...pod('a5', NODE), status: { phase: 'Running', podIP: '10.0.0.10' } });
    await eventually(() => names().includes('a5'), 'a5 to appear');
    expect(watch.list().find((p) => p.name === 'a4')?.podIps).toEqual(['10.0.0.9']);
    expect(watch.list().find((p) => p.name === 'a5')?.podIps).toEqual(['10.0.0.10']);
    server.remove(PODS, pod('a4', NODE));
    server.remove(PODS, pod('a5', NODE));

    server.remove(PODS, pod('a1', NODE));
    await eventually(() => !names().includes('a1'), 'a1 to go');
    expect(names()).toEqual(['a2']);
    expect(changes).toBeGreaterThanOrEqual(2);
    expect(watch.synced()).toBe(true);
  });

  it('resumes after the server ends the watch, from its version, without a relist and without losing events', async () => {
    await startSynced();
    server.closeWatches();
    server.add(PODS, pod('a3', NODE));
    await eventually(() => names().includes('a3'), 'a3 to appear');
    expect(server.lists(PODS)).toHaveLength(1);
    expect(server.watchRequests(PODS).length).toBeGreaterThanOrEqual(2);
    expect(restarts).toEqual([]);
  });

  it('relists after 410 Gone on the stream, catching deletions it missed', async () => {
    await startSynced();
    server.removeQuietly(PODS, pod('a1', NODE));
    server.compact();
    await eventually(() => server.lists(PODS).length === 2, 'a relist');
    await eventually(() => names().length === 0, 'a1 to go');
    expect(restarts).toEqual([]);
    expect(watch.synced()).toBe(true);
  });

  it('relists after a 410 answer to the watch request', async () => {
    await startSynced();
    server.fault(PODS, true, { kind: 'status', status: 410 });
    server.closeWatches();
    await eventually(() => server.lists(PODS).length === 2, 'a relist');
    expect(restarts).toEqual([]);
  });

  it('restarts with back-off after an error status and keeps the last snapshot meanwhile', async () => {
    await startSynced();
    server.fault(PODS, true, { kind: 'status', status: 500 });
    server.fault(PODS, false, { kind: 'status', status: 503 });
    server.closeWatches();
    await eventually(() => restarts.length === 1, 'a restart after the 500');
    expect(watch.synced()).toBe(false);
    expect(names()).toEqual(['a1']);
    // First back-off step (1 s, jitter at its lowest: half of it); nothing happens before it.
    await clock.advance(499);
    expect(server.lists(PODS)).toHaveLength(1);
    await clock.advance(1);
    await eventually(() => restarts.length === 2, 'the failed relist (503) to count');
    expect(server.lists(PODS)).toHaveLength(2);
    // Second step: 2 s, half of it with this jitter.
    server.remove(PODS, pod('a1', NODE));
    await clock.advance(999);
    expect(server.lists(PODS)).toHaveLength(2);
    await clock.advance(1);
    await watch.waitUntilSynced();
    expect(server.lists(PODS)).toHaveLength(3);
    expect(names()).toEqual([]);
    expect(restarts).toEqual(['error', 'error']);
  });

  it('caps the back-off', async () => {
    const server2Faults = 12;
    server.fault(PODS, false, { kind: 'status', status: 500 }, server2Faults);
    watch.start(abort.signal);
    const delays: number[] = [];
    for (let i = 0; i < server2Faults; i++) {
      await eventually(() => restarts.length === i + 1, `restart ${i + 1}`);
      const before = clock.now();
      await clock.advanceTo(clock.nextTimerAt()!);
      delays.push(clock.now() - before);
    }
    await watch.waitUntilSynced();
    expect(delays.slice(0, 6)).toEqual([500, 1000, 2000, 4000, 8000, 15000]);
    expect(Math.max(...delays)).toBe(15000);
  });

  it('restarts a watch that stalls silently', async () => {
    await startSynced();
    // A hung watch request: headers never come, no error ever surfaces.
    server.fault(PODS, true, { kind: 'hang' });
    server.closeWatches();
    await eventually(() => server.watchRequests(PODS).length === 2, 'the hung watch request');
    await clock.advance(WATCH_STALL_MS - 1);
    expect(restarts).toEqual([]);
    await clock.advance(1);
    expect(restarts).toEqual(['stall']);
    await clock.advance(0);
    await eventually(() => server.lists(PODS).length === 2 && watch.synced(), 'the relist after the stall');
  });

  it('takes bookmarks as signs of life', async () => {
    await startSynced();
    for (let i = 0; i < 3; i++) {
      await clock.advance(WATCH_STALL_MS / 2);
      server.bookmark();
      // The bookmark travels over real HTTP; the ManualClock stands still until it is seen.
      await eventually(() => watch.health().lastActivityAt === clock.now(), 'the bookmark');
    }
    expect(server.lists(PODS)).toHaveLength(1);
    expect(restarts).toEqual([]);
    await clock.advance(WATCH_STALL_MS);
    expect(restarts).toEqual(['stall']);
    expect(watch.health().restarts).toEqual({ error: 0, stall: 1 });
  });

  it('stops on close: no restart, no request', async () => {
    await startSynced();
    await watch.close();
    const before = server.requests.length;
    server.closeWatches();
    await clock.advance(WATCH_STALL_MS * 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.requests.length).toBe(before);
    expect(restarts).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });
});
