import { appendFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LeakCause } from '../../agent/leak-reaper.js';
import { appendRelease } from '../../cni/release-spool-file.js';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import { expectAgentMatchesEc2, okAddresses, quiesce, settleAll } from './fakes/agent-invariants.js';

function stateOf(h: AgentHarness, address: string): string | undefined {
  return h.agent
    .view()
    .datastore.addressRecords()
    .find((r) => r.address === address)?.state.type;
}

function holderOf(h: AgentHarness, containerId: string): string | undefined {
  return h.agent.view().datastore.assignmentOf({ containerId, ifName: 'eth0' })?.address;
}

describe('CNI GC', () => {
  it('releases exactly the reservations not listed as valid, into cooldown, and is idempotent', async () => {
    const h = new AgentHarness(settings({}, { ipCooldownMs: 30_000 }));
    await h.start();
    await h.run(5_000);
    const ids = Array.from({ length: 8 }, (_, i) => `c${i}`);
    const addresses = okAddresses(
      await settleAll(
        h,
        ids.map((id) => h.add(id)),
      ),
    );
    const valid = ids.slice(0, 5).map((containerId) => ({ containerId, ifname: 'eth0' }));
    // A listed attachment this node never saw, and one of ours under another interface name.
    const extra = [
      { containerId: 'unknown', ifname: 'eth0' },
      { containerId: 'c5', ifname: 'net1' },
    ];

    // Another network's GC (even with an empty list) collects nothing of ours.
    expect(await h.agent.backend.gc([], 'other-network')).toEqual({ kind: 'ok', released: 0 });
    expect(h.agent.view().datastore.totals().assigned).toBe(8);
    expect(await h.agent.backend.gc([...valid, ...extra], 'eni-ipam')).toEqual({ kind: 'ok', released: 3 });
    for (const [i, id] of ids.entries()) {
      if (i < 5) expect(holderOf(h, id)).toBe(addresses[i]);
      else {
        expect(holderOf(h, id)).toBeUndefined();
        expect(stateOf(h, addresses[i]!)).toBe('cooling');
      }
    }
    expect(await h.agent.backend.gc([...valid, ...extra], 'eni-ipam')).toEqual({ kind: 'ok', released: 0 });
    expect(h.agent.view().datastore.totals().assigned).toBe(5);
    // Durable before the answer: a crash right now must not bring the released ones back.
    await h.restart();
    expect(h.agent.view().datastore.totals().assigned).toBe(5);
    expect(await h.agent.backend.gc([], 'other-network')).toEqual({ kind: 'ok', released: 0 });
    expect(await h.agent.backend.gc([], 'eni-ipam')).toEqual({ kind: 'ok', released: 5 });
    expect(h.agent.view().datastore.totals().assigned).toBe(0);
    expectAgentMatchesEc2(h);
  });
});

it('a CNI GC naming another network releases nothing', async () => {
  const h = new AgentHarness(settings({ WARM_IP_TARGET: '3' }));
  await h.start();
  await settleAll(
    h,
    ['a', 'b'].map((id) => h.add(id)),
  );
  expect(await h.agent.backend.gc([], 'macvlan-secondary')).toEqual({ kind: 'ok', released: 0 });
  expect(h.agent.view().datastore.totals().assigned).toBe(2);
});

describe('release spool', () => {
  it('applies at start-up the DELs the plugin spooled while the agent was down, and nothing else', async () => {
    const spool = join(mkdtempSync(join(tmpdir(), 'eni-ipam-spool-')), 'release-spool.jsonl');
    const released: [LeakCause, number][] = [];
    const h = new AgentHarness(settings({}, { spoolPath: spool, ipCooldownMs: 30_000 }), 'm5.large', {
      leakEvents: { found: () => undefined, released: (cause, count) => released.push([cause, count]) },
    });
    await h.start();
    await h.run(5_000);
    const ids = ['gone0', 'gone1', 'stays', 'late'];
    const addresses = okAddresses(
      await settleAll(
        h,
        ids.map((id) => h.add(id)),
      ),
    );
    const lateAssignedAt = h.agent
      .view()
      .datastore.assignmentOf({ containerId: 'late', ifName: 'eth0' })!.assignedAt;

    h.kill();
    // While the agent is down, kubelet deletes two pods: the plugin cannot connect and spools.
    await h.run(2_000);
    for (const id of ['gone0', 'gone1']) {
      appendRelease(spool, {
        op: 'del',
        containerId: id,
        ifname: 'eth0',
        network: 'eni-ipam',
        pod: { namespace: 'default', name: `pod-${id}`, uid: `uid-${id}` },
        spooledAt: h.clock.now(),
      });
    }
    // A release recorded before `late` got its current address (an older sandbox with the same
    // container id) must not take it away; a line torn by a crash is skipped.
    appendRelease(spool, {
      op: 'del',
      containerId: 'late',
      ifname: 'eth0',
      network: 'eni-ipam',
      pod: { namespace: 'default', name: 'pod-late', uid: 'uid-late' },
      spooledAt: lateAssignedAt - 1,
    });
    appendFileSync(spool, '{"v":1,"op":"del","contain');

    h.agent = h.newAgent();
    await h.start();
    expect(holderOf(h, 'gone0')).toBeUndefined();
    expect(holderOf(h, 'gone1')).toBeUndefined();
    expect(holderOf(h, 'stays')).toBe(addresses[2]);
    expect(holderOf(h, 'late')).toBe(addresses[3]);
    expect(['cooling', 'available']).toContain(stateOf(h, addresses[0]!));
    expect(released.every(([cause]) => cause === 'del_while_down')).toBe(true);
    // Claimed and applied: the next start applies nothing again.
    expect(existsSync(spool)).toBe(false);
    expect(existsSync(`${spool}.applying`)).toBe(false);
    expect(h.agent.view().datastore.totals().assigned).toBe(2);
    // The ENI the dead agent was creating lands after the new one listed the ENIs: the periodic
    // resync brings it in.
    await h.run(70_000);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  // The del_while_down count is of addresses released, not of spooled lines: NodeIpam.del answers ok
  // for a DEL that releases nothing (unknown key, a DEL spooled twice, one older than the assignment).
  it('counts as released only the spooled DELs that released an address', async () => {
    const spool = join(mkdtempSync(join(tmpdir(), 'eni-ipam-spool-')), 'release-spool.jsonl');
    const released: [LeakCause, number][] = [];
    const h = new AgentHarness(settings({}, { spoolPath: spool }), 'm5.large', {
      leakEvents: { found: () => undefined, released: (cause, count) => released.push([cause, count]) },
    });
    await h.start();
    await h.run(5_000);
    okAddresses(await settleAll(h, [h.add('gone0'), h.add('gone1')]));
    h.kill();
    for (const id of ['gone0', 'gone1', 'gone1', 'never-added']) {
      appendRelease(spool, {
        op: 'del',
        containerId: id,
        ifname: 'eth0',
        network: 'eni-ipam',
        pod: { namespace: 'default', name: `pod-${id}`, uid: `uid-${id}` },
        spooledAt: h.clock.now(),
      });
    }
    h.agent = h.newAgent();
    await h.start();
    expect(h.agent.view().datastore.totals().assigned).toBe(0);
    expect(released).toEqual([['del_while_down', 2]]);
  });

  it('starts normally when there is no spool file', async () => {
    const spool = join(mkdtempSync(join(tmpdir(), 'eni-ipam-spool-')), 'absent.jsonl');
    const h = new AgentHarness(settings({}, { spoolPath: spool }));
    await h.start();
    await h.run(5_000);
    expect(okAddresses(await settleAll(h, [h.add('a')]))).toHaveLength(1);
  });
});
