import { describe, expect, it } from 'vitest';
import { SHRINK_AFTER_MS } from '../../agent/intervals.js';
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
    // Cooldowns end; the surplus is released once the pool has stayed over target SHRINK_AFTER_MS.
    await h.run(2_000);
    expect(h.agent.view().datastore.totals()).toMatchObject({ total: 25, cooling: 0 });
    await h.run(SHRINK_AFTER_MS);
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
      // Long enough for the cooldown and the shrink delay to pass each round.
      for (let t = 0; t < 6 + SHRINK_AFTER_MS / 5_000; t++) {
        await h.run(5_000);
        lowest = Math.min(lowest, h.ec2.podAddresses().length, h.agent.view().datastore.totals().total);
      }
    }
    expect(lowest).toBe(12);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  // Cooling addresses are not free when growing, and come back as free when their cooldown ends;
  // releasing that surplus at once cost an assign and an unassign per pod replaced (92 mutations for
  // 46 churn events). Releases now wait until the pool has stayed over target SHRINK_AFTER_MS.
  it('does not thrash: steady churn of 8 pods for 10 simulated minutes costs a bounded number of EC2 mutations', async () => {
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
  });
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

  it('ADDs beyond what MAX_ENI lets the node hold fail at once, naming max pods', async () => {
    const { h, outcomes } = await capped();
    // MAX_ENI=2 on an m5.large: 2 x 9 = 18 pod addresses (max pods 20 counts two host-network
    // pods), so 18 of the 25 get one and 7 fail at once instead of waiting for an address that
    // cannot come (the waiting ADDs count).
    expect(h.agent.view().limits.maxPods).toBe(20);
    const failed = failures(outcomes);
    expect(failed).toHaveLength(7);
    for (const f of failed)
      expect(f.message).toMatch(/node is at its max pods: .* of 18 it can hold \(max pods 20\)/);
  });
});
