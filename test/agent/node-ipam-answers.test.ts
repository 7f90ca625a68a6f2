/**
 * The ADD path of NodeIpam on its own: an ADD with a free address is answered once its
 * assignment is durable, and the demand it makes is announced once for a group of ADDs, after
 * their answers, not between a group's write and its answers, and not while a burst still comes in.
 */
import { describe, expect, it } from 'vitest';
import { AddWaitQueue } from '../../agent/add-wait-queue.js';
import type { AddRequest } from '../../agent/cni-backend.js';
import { silentLogger } from '../../agent/logger.js';
import { MAX_QUIET_WAIT_TURNS, NodeIpam, type Assigned } from '../../agent/node-ipam.js';
import { PoolChanges } from '../../agent/pool-changes.js';
import { Datastore } from '../../ipam/datastore.js';
import type { AssignRequest } from '../../ipam/datastore-types.js';
import { ManualClock } from '../../time/manual-clock.js';

function node(persist: () => Promise<void>) {
  const clock = new ManualClock();
  const datastore = new Datastore();
  datastore.addEni({
    id: 'eni-0',
    subnetId: 'subnet-a',
    subnetCidr: '10.0.0.0/20',
    deviceIndex: 0,
    primary: true,
  });
  datastore.addIps('eni-0', ['10.0.0.10', '10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.14', '10.0.0.15']);
  const changes = new PoolChanges();
  const events: string[] = [];
  changes.on('demand', () => events.push('demand'));
  const ipam = new NodeIpam({
    datastore,
    clock,
    logger: silentLogger(),
    limits: { maxEnis: 3, ipv4PerEni: 10, maxPods: 110, prefixes: false },
    cooldownMs: 0,
    addWaitMs: 20_000,
    persist,
    changes,
    waiters: new AddWaitQueue<AssignRequest, Assigned>(clock),
    blocker: () => undefined,
    placementFor: () => ({ kind: 'ok', placement: {} }),
  });
  ipam.markReady();
  return { ipam, datastore, events };
}

function add(id: string): AddRequest {
  return {
    op: 'add',
    containerId: id,
    ifname: 'eth0',
    netns: `/var/run/netns/${id}`,
    network: 'aws-cni',
    pod: { namespace: 'default', name: id, uid: `uid-${id}` },
  };
}

describe('NodeIpam answers', () => {
  it('answers ADDs only once their assignments are durable, then announces their demand once', async () => {
    // One disk write for the group, as the checkpoint's group commit makes it.
    let durable: () => void = () => undefined;
    const write = new Promise<void>((resolve) => (durable = resolve));
    const { ipam, datastore, events } = node(() => write);
    const signal = new AbortController().signal;
    const answered: string[] = [];
    const outcomes = ['a', 'b', 'c'].map((id) =>
      ipam.add(add(id), signal).then((outcome) => {
        answered.push(id);
        events.push(`answer ${id}`);
        return outcome;
      }),
    );
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Assigned in memory, not answered: the checkpoint holding them is not durable yet.
    expect(datastore.totals().assigned).toBe(3);
    expect(answered).toEqual([]);
    expect(events).toEqual([]);
    durable();
    const results = await Promise.all(outcomes);
    expect(results.map((o) => (o.kind === 'ok' ? o.result.ips[0] : o.message))).toEqual([
      { address: '10.0.0.10/20', gateway: '10.0.0.3' },
      { address: '10.0.0.11/20', gateway: '10.0.0.3' },
      { address: '10.0.0.12/20', gateway: '10.0.0.3' },
    ]);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(events).toEqual(['answer a', 'answer b', 'answer c', 'demand']);
  });

  it('announces at once the demand of an ADD that must wait for an address', async () => {
    const { ipam, events } = node(() => Promise.resolve());
    const signal = new AbortController().signal;
    const held = await Promise.all(['a', 'b', 'c', 'd', 'f', 'g'].map((id) => ipam.add(add(id), signal)));
    expect(held.every((o) => o.kind === 'ok')).toBe(true);
    await new Promise<void>((resolve) => setImmediate(resolve));
    events.length = 0;
    const controller = new AbortController();
    const waiting = ipam.add(add('e'), controller.signal);
    expect(events).toEqual(['demand']);
    controller.abort();
    expect(await waiting).toMatchObject({ kind: 'failure', cniCode: 11 });
  });

  it('holds the announcement while requests keep coming in, a turn of the event loop at a time', async () => {
    const { ipam, events } = node(() => Promise.resolve());
    const signal = new AbortController().signal;
    const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
    await ipam.add(add('a'), signal);
    // A request read in each of the next turns: the planning round waits for a quiet one.
    for (const id of ['b', 'c', 'd']) {
      void ipam.del({ ...add(id), op: 'del' });
      await turn();
      expect(events).toEqual([]);
    }
    await turn();
    await turn();
    expect(events).toEqual(['demand']);
  });

  it('announces after MAX_QUIET_WAIT_TURNS turns even if requests never stop', async () => {
    const { ipam, events } = node(() => Promise.resolve());
    const signal = new AbortController().signal;
    const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
    await ipam.add(add('a'), signal);
    let turns = 0;
    while (events.length === 0 && turns < 10 * MAX_QUIET_WAIT_TURNS) {
      void ipam.del({ ...add(`x${turns}`), op: 'del' });
      await turn();
      turns++;
    }
    expect(events).toEqual(['demand']);
    expect(turns).toBeGreaterThanOrEqual(MAX_QUIET_WAIT_TURNS);
    expect(turns).toBeLessThanOrEqual(MAX_QUIET_WAIT_TURNS + 2);
  });
});
