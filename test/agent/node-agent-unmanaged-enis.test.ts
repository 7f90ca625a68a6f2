import { describe, expect, it } from 'vitest';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import { failures, okAddresses, quiesce, settleAll } from './fakes/agent-invariants.js';

describe('ENIs that are not ours (trunk, EFA, no_manage)', () => {
  it('never adopts them, never hands out their addresses, and subtracts them from the ENI limit', async () => {
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }), 'm5.large');
    const trunk = h.ec2.attachExtra(5, 'interface type trunk');
    await h.start();
    // m5.large: 3 ENIs; the trunk ENI takes one of them.
    expect(h.agent.view().limits.maxEnis).toBe(2);
    expect(
      h.agent
        .view()
        .datastore.enis()
        .map((e) => e.id),
    ).not.toContain(trunk.eniId);

    const outcomes = await settleAll(
      h,
      Array.from({ length: 20 }, (_, i) => h.add(`c${i}`)),
    );
    const served = okAddresses(outcomes);
    // Two ENIs of 9 secondary slots each: 18 pods, never one of the trunk ENI's addresses.
    expect(served).toHaveLength(18);
    expect(failures(outcomes)).toHaveLength(2);
    for (const address of served) expect(trunk.secondaryIps).not.toContain(address);
    await quiesce(h);
    // The agent never touched the trunk ENI and never asked EC2 for a third ENI of its own.
    expect(h.ec2.enis.get(trunk.eniId)?.secondaryIps).toHaveLength(5);
    expect(h.ec2.enis.size).toBe(3);

    const resynced = h.agent.resync();
    await h.run(5_000);
    await resynced;
    expect(
      h.agent
        .view()
        .datastore.enis()
        .map((e) => e.id),
    ).not.toContain(trunk.eniId);
  });

  it('recomputes the ENI limit at each resync: a trunk attached later takes a slot, its detach gives it back', async () => {
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }), 'm5.large');
    await h.start();
    await quiesce(h);
    expect(h.agent.view().limits.maxEnis).toBe(3);
    // The primary ENI's 9 addresses are the warm ENI.
    expect(h.ec2.enis.size).toBe(1);

    // The VPC resource controller attaches a trunk ENI (security groups for pods) while we run.
    const trunk = h.ec2.attachExtra(0, 'interface type trunk');
    const resynced = h.agent.resync();
    await h.run(5_000);
    await resynced;
    expect(h.agent.view().limits.maxEnis).toBe(2);

    // Demand for more than two ENIs can hold: one ENI is created, none for the slot the trunk took.
    const creates = h.ec2.createRequests.length;
    const outcomes = await settleAll(
      h,
      Array.from({ length: 20 }, (_, i) => h.add(`c${i}`)),
    );
    expect(okAddresses(outcomes)).toHaveLength(18);
    expect(failures(outcomes)).toHaveLength(2);
    await quiesce(h);
    expect(h.ec2.createRequests.length).toBe(creates + 1);

    // The trunk goes away: its slot is the agent's again and the next pods get a third ENI.
    h.ec2.enis.delete(trunk.eniId);
    const again = h.agent.resync();
    await h.run(5_000);
    await again;
    expect(h.agent.view().limits.maxEnis).toBe(3);
    const more = await settleAll(h, [h.add('d0'), h.add('d1')]);
    expect(failures(more)).toEqual([]);
    expect(
      h.agent
        .view()
        .datastore.enis()
        .filter((e) => !e.primary),
    ).toHaveLength(2);
  });
});
