import { describe, expect, it } from 'vitest';
import type { AddOutcome, AddRequest, DelOutcome, DelRequest } from '../../agent/cni-backend.js';
import { ClusterPods } from '../../sim/runner/cluster-pods.js';
import { ContainerRuntime, type NodeSocket } from '../../sim/runner/container-runtime.js';
import { ManualClock } from '../../time/manual-clock.js';

/** A socket that fails the first `failures` ADDs, then answers with 10.0.0.<n>. */
class ScriptedSocket implements NodeSocket {
  readonly adds: { at: number; containerId: string }[] = [];
  readonly dels: string[] = [];

  constructor(
    private readonly clock: ManualClock,
    private failures: number,
  ) {}

  add(req: AddRequest): Promise<AddOutcome> {
    this.adds.push({ at: this.clock.now(), containerId: req.containerId });
    if (this.failures-- > 0) return Promise.resolve({ kind: 'failure', cniCode: 11, message: 'try again' });
    return Promise.resolve({
      kind: 'ok',
      result: { ips: [{ address: `10.0.0.${this.adds.length}/24` }], routes: [] },
    });
  }

  del(req: DelRequest): Promise<DelOutcome> {
    this.dels.push(req.containerId);
    return Promise.resolve({ kind: 'ok' });
  }
}

function world(failures: number): {
  clock: ManualClock;
  api: ClusterPods;
  socket: ScriptedSocket;
  runtime: ContainerRuntime;
} {
  const clock = new ManualClock(0);
  const api = new ClusterPods(clock);
  const socket = new ScriptedSocket(clock, failures);
  return { clock, api, socket, runtime: new ContainerRuntime(clock, api, () => socket) };
}

const pod = {
  uid: 'u1',
  namespace: 'default',
  name: 'p1',
  node: 'n',
  annotations: {},
  lifetimeMs: undefined,
};

describe('the simulated container runtime', () => {
  it('retries a failed ADD like kubelet: 1 s, doubling, capped at 30 s, a new sandbox each time', async () => {
    const { clock, socket, runtime } = world(8);
    const record = runtime.schedule(pod);
    await clock.advance(200_000);
    expect(socket.adds.map((a) => a.at / 1000)).toEqual([0, 1, 3, 7, 15, 31, 61, 91, 121]);
    expect(new Set(socket.adds.map((a) => a.containerId)).size).toBe(9);
    // Each failed sandbox is torn down with a DEL.
    expect(socket.dels).toEqual(socket.adds.slice(0, 8).map((a) => a.containerId));
    expect(record).toMatchObject({ failedAdds: 8, firstAddAt: 0, addressedAt: 121_000, address: '10.0.0.9' });
  });

  it('stops retrying when the run ends', async () => {
    const { clock, socket, runtime } = world(1_000);
    runtime.schedule(pod);
    await clock.advance(10_000);
    runtime.stop();
    const tries = socket.adds.length;
    await clock.advance(100_000);
    expect(socket.adds).toHaveLength(tries);
  });

  it('deletes a pod after its lifetime: DEL for its sandbox, then the API object goes', async () => {
    const { clock, api, socket, runtime } = world(0);
    const record = runtime.schedule({ ...pod, lifetimeMs: 5_000 });
    await clock.advance(1);
    expect(api.list('n')).toMatchObject([{ uid: 'u1', phase: 'Running' }]);
    await clock.advance(5_000);
    expect(socket.dels).toEqual([record.containerId]);
    expect(record.deleted).toBe(true);
    expect(api.list('n')).toEqual([]);
  });

  it('shows pods to each agent process through its own watch, synced between start and close', () => {
    const { api } = world(0);
    const watch = api.watchOf('n');
    expect(watch.synced()).toBe(false);
    const stop = new AbortController();
    watch.start(stop.signal);
    let changes = 0;
    watch.onChange(() => changes++);
    api.create('n', pod);
    api.create('other-node', { ...pod, uid: 'u2' });
    expect(watch.list().map((p) => p.uid)).toEqual(['u1']);
    expect(changes).toBe(1);
    stop.abort();
    api.delete('n', 'u1');
    expect(changes).toBe(1);
    expect(watch.synced()).toBe(false);
  });
});
