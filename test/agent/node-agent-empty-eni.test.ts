import { describe, expect, it } from 'vitest';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import { quiesce } from './fakes/agent-invariants.js';

describe('empty ENIs', () => {
  it('are really deleted (after the release hold-back), though the pool is not too high', async () => {
    // WARM_IP_TARGET=2: the primary ENI alone meets the target, so poolTooHigh stays false while
    // the plan asks to delete the empty ENI (a crash left it: created, attached, never filled).
    const h = new AgentHarness(settings({ WARM_IP_TARGET: '2' }), 'm5.large');
    const empty = h.ec2.attachExtra(0);
    await h.start();
    await quiesce(h);
    await h.run(3 * 60_000);
    await quiesce(h);
    expect([...h.ec2.enis.keys()]).not.toContain(empty.eniId);
    expect(
      h.agent
        .view()
        .datastore.enis()
        .map((e) => e.id),
    ).not.toContain(empty.eniId);
  });
});
