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
});
