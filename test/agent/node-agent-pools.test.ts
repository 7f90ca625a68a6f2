import { describe, expect, it } from 'vitest';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import {
  expectAgentMatchesEc2,
  quiesce,
  failures,
  okAddresses,
  settleAll,
} from './fakes/agent-invariants.js';

const COOLDOWN_MS = 30_000;

function ipTargets(warm: number, minimum: number, extra: Record<string, string> = {}): AgentHarness {
  return new AgentHarness(
    settings(
      { WARM_IP_TARGET: String(warm), MINIMUM_IP_TARGET: String(minimum), ...extra },
      { ipCooldownMs: COOLDOWN_MS },
    ),
  );
}

describe('WARM_IP_TARGET / MINIMUM_IP_TARGET', () => {
  it('grows to MINIMUM_IP_TARGET at start, keeps WARM_IP_TARGET free under load, shrinks back after the pods leave', async () => {
    const h = ipTargets(5, 10);
    const primary = h.ec2.primaryEni().eniId;
    await h.start();
    await h.run(10_000);
    expect(h.agent.view().datastore.totals()).toMatchObject({ total: 10, free: 10 });
    expectAgentMatchesEc2(h);

    const outcomes = await settleAll(
      h,
      Array.from({ length: 20 }, (_, i) => h.add(`c${i}`)),
    );
    expect(failures(outcomes)).toEqual([]);
    await h.run(10_000);
    await quiesce(h);
    // 20 assigned + 5 warm = 25 addresses: three ENIs on an m5.large (9 slots each).
    expect(h.agent.view().datastore.totals()).toMatchObject({ assigned: 20, free: 5, total: 25 });
    expect(h.ec2.enis.size).toBe(3);
    expectAgentMatchesEc2(h);

    const deletesBefore = h.ec2.calls.filter((c) => c === 'delete').length;
    for (let i = 0; i < 20; i++) await h.del(`c${i}`);
    // During the cooldown nothing is released: cooling addresses are neither free nor releasable.
    await h.run(COOLDOWN_MS - 1_000);
    expect(h.agent.view().datastore.totals()).toMatchObject({ total: 25, cooling: 20 });
    await h.run(30_000);
    await quiesce(h);
    const totals = h.agent.view().datastore.totals();
    expect(totals).toMatchObject({ assigned: 0, cooling: 0, total: 10, free: 10 });
    // A wholly free ENI went back to EC2; the primary never does.
    expect(h.ec2.calls.filter((c) => c === 'delete').length).toBeGreaterThan(deletesBefore);
    expect(h.ec2.enis.size).toBeLessThan(3);
    expect(h.ec2.enis.has(primary)).toBe(true);
    expectAgentMatchesEc2(h);
  });

  it('never holds fewer than MINIMUM_IP_TARGET addresses, even with no pods and no warm target left to meet', async () => {
    const h = ipTargets(1, 12);
    await h.start();
    let lowest = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++) {
      const outcomes = await settleAll(
        h,
        Array.from({ length: 15 }, (_, i) => h.add(`r${round}-${i}`)),
      );
      expect(failures(outcomes)).toEqual([]);
      for (let i = 0; i < 15; i++) await h.del(`r${round}-${i}`);
      for (let t = 0; t < 12; t++) {
        await h.run(5_000);
        lowest = Math.min(lowest, h.ec2.podAddresses().length, h.agent.view().datastore.totals().total);
      }
    }
    expect(lowest).toBe(12);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  // BUG (reported): cooling addresses are not free when growing (right) but come back as free, and
  // are released, the moment their cooldown ends. Under churn every pod that comes costs an
  // AssignPrivateIpAddresses and, 30 s later, the expiry of the previous pod's address an
  // UnassignPrivateIpAddresses: 92 mutations for 46 churn events here, from a node whose pod count
  // never changed.
  it.fails(
    'does not thrash: steady churn of 8 pods for 10 simulated minutes costs a bounded number of EC2 mutations',
    async () => {
      const h = ipTargets(3, 10);
      await h.start();
      await settleAll(
        h,
        Array.from({ length: 8 }, (_, i) => h.add(`p${i}`)),
      );
      await h.run(60_000);
      await quiesce(h);
      const before = h.ec2.mutatingCalls().length;
      // A pod goes and a new one comes every 13 s (not a divisor of the cooldown, as in life).
      let next = 8;
      const live = Array.from({ length: 8 }, (_, i) => `p${i}`);
      for (let t = 0; t < 600_000; t += 13_000) {
        await h.del(live.shift()!);
        const id = `p${next++}`;
        const [outcome] = await settleAll(h, [h.add(id)]);
        expect(outcome!.kind).toBe('ok');
        live.push(id);
        await h.run(13_000);
      }
      const mutations = h.ec2.mutatingCalls().slice(before);
      // ~46 churn events. Once the cooling addresses reach their steady number (30 s / 13 s, about 3),
      // the pool is the same size at every event: a few adjustments, not one assign + one unassign each.
      expect(mutations.length, mutations.join(',')).toBeLessThanOrEqual(8);
      await quiesce(h);
      expectAgentMatchesEc2(h);
    },
  );
});

describe('MAX_ENI', () => {
  async function capped(): Promise<{
    h: AgentHarness;
    most: number;
    outcomes: Awaited<ReturnType<typeof settleAll>>;
  }> {
    const h = new AgentHarness(
      settings({ WARM_ENI_TARGET: '1', MAX_ENI: '2' }, { addWaitMs: 10_000 }),
      'm5.large',
    );
    await h.start();
    let most = h.ec2.enis.size;
    const pending = Array.from({ length: 25 }, (_, i) => h.add(`c${i}`));
    let done = 0;
    for (const p of pending) void p.then(() => done++);
    while (done < pending.length) {
      await h.run(250);
      most = Math.max(most, h.ec2.enis.size);
    }
    return { h, most, outcomes: await Promise.all(pending) };
  }

  it('never attaches more ENIs than MAX_ENI, though pods wait for addresses', async () => {
    const { h, most, outcomes } = await capped();
    expect(h.agent.view().limits.maxEnis).toBe(2);
    expect(most).toBe(2);
    // 2 ENIs x 9 slots = 18 addresses.
    expect(okAddresses(outcomes)).toHaveLength(18);
    expect(failures(outcomes)).toHaveLength(7);
    await h.run(120_000);
    expect(h.ec2.enis.size).toBe(2);
    expect(h.ec2.calls.filter((c) => c === 'create')).toHaveLength(1);
    expectAgentMatchesEc2(h);
  });

  it('an ADD that times out at MAX_ENI says the node is at its ENI limit; ADDs beyond max pods fail at once', async () => {
    const { h, outcomes } = await capped();
    // MAX_ENI=2 on an m5.large: max pods 2 x 9 + 2 = 20, so 5 of the 25 fail at once (the waiting
    // ADDs count), 18 get the 18 addresses and 2 time out.
    expect(h.agent.view().limits.maxPods).toBe(20);
    const failed = failures(outcomes);
    const atOnce = failed.filter((f) => /max pods/.test(f.message));
    expect(atOnce).toHaveLength(5);
    const timedOut = failed.filter((f) => !/max pods/.test(f.message));
    expect(timedOut).toHaveLength(2);
    for (const f of timedOut)
      expect(f.message).toMatch(/no free address within 10 s: the node is at its ENI limit: 2 of 2/);
  });
});
