import { describe, expect, it } from 'vitest';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import { failures, okAddresses, quiesce, settleAll } from './fakes/agent-invariants.js';

describe("max pods from the kubelet (the node's status.capacity.pods)", () => {
  it('caps the pool and ADD admission at the kubelet figure, not the computed one', async () => {
    // m5.large computes 29; the kubelet was started with --max-pods=12 (e.g. by Karpenter).
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }), 'm5.large', {
      kubeletMaxPods: () => Promise.resolve(12),
    });
    await h.start();
    expect(h.agent.view().limits.maxPods).toBe(12);
    const outcomes = await settleAll(
      h,
      Array.from({ length: 14 }, (_, i) => h.add(`c${i}`)),
    );
    expect(okAddresses(outcomes)).toHaveLength(12);
    expect(failures(outcomes)).toHaveLength(2);
    for (const f of failures(outcomes))
      expect(f.message).toMatch(/node is at its max pods: .* \(max pods 12\)/);
    await quiesce(h);
    // The pool never holds more than max pods' worth of addresses.
    const total = h.agent
      .view()
      .datastore.usage()
      .reduce((sum, eni) => sum + eni.ips, 0);
    expect(total).toBeLessThanOrEqual(12);
  });

  it('falls back to the computed figure when the node object does not say', async () => {
    const h = new AgentHarness(settings(), 'm5.large', { kubeletMaxPods: () => Promise.resolve(undefined) });
    await h.start();
    expect(h.agent.view().limits.maxPods).toBe(29);
  });

  it('falls back to the computed figure when the API server cannot be read', async () => {
    const h = new AgentHarness(settings(), 'm5.large', {
      kubeletMaxPods: () => Promise.reject(new Error('connect ECONNREFUSED 10.100.0.1:443')),
    });
    await h.start();
    expect(h.agent.view().limits.maxPods).toBe(29);
  });
});
