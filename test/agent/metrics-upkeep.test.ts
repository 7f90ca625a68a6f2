import { describe, expect, it } from 'vitest';
import type { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import type { AgentHarness } from './fakes/agent-harness.js';
import { assembledNode } from './fakes/assembled-node.js';
import { okAddresses, settleAll } from './fakes/agent-invariants.js';
import { ec2Error } from './fakes/fake-ec2-network.js';

function node(): { h: AgentHarness; metrics: () => AgentMetrics } {
  return assembledNode({ WARM_IP_TARGET: '2', MINIMUM_IP_TARGET: '12' });
}

async function sample(
  metrics: AgentMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const values = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

describe("the VPC CNI's upkeep metrics", () => {
  it('count each EC2 resync, and the addresses and ENIs EC2 took away while pods held them', async () => {
    const { h, metrics } = node();
    await h.start();
    await h.run(10_000);
    const addresses = okAddresses(
      await settleAll(
        h,
        Array.from({ length: 11 }, (_, i) => h.add(`p${i}`)),
      ),
    );
    expect(addresses).toHaveLength(11);
    await h.run(10_000); // the pool back at its warm target, nothing in flight
    const secondary = [...h.ec2.enis.values()].find(
      (eni) => !eni.primary && eni.secondaryIps.some((ip) => addresses.includes(ip)),
    );
    expect(secondary, 'a secondary ENI holds pods').toBeDefined();
    const held = secondary!.secondaryIps.filter((ip) => addresses.includes(ip)).length;
    const before = await sample(metrics(), 'awscni_reconcile_count', { fn: 'ec2_resync' });

    // Someone else deletes the ENI, and takes one held address off the primary ENI.
    h.ec2.enis.delete(secondary!.eniId);
    const primary = h.ec2.primaryEni();
    const taken = primary.secondaryIps.find((ip) => addresses.includes(ip))!;
    h.ec2.enis.set(primary.eniId, {
      ...primary,
      secondaryIps: primary.secondaryIps.filter((ip) => ip !== taken),
    });
    const resynced = h.agent.resync();
    await h.run(1_000);
    await resynced;

    expect(await sample(metrics(), 'awscni_reconcile_count', { fn: 'ec2_resync' })).toBe(before + 1);
    expect(await sample(metrics(), 'awscni_force_removed_enis')).toBe(1);
    expect(await sample(metrics(), 'awscni_force_removed_ips')).toBe(held + 1);
  });

  it('count a failed resync as an ipamd error, and the agent carries on', async () => {
    const { h, metrics } = node();
    await h.start();
    await h.run(10_000);
    h.ec2.failAlways('describe', () => new Error('EC2 is unreachable'));
    // The periodic resync (ENI_IPAM_EC2_RESYNC_SECONDS, 60 s by default) fails twice.
    await h.run(125_000);
    expect(await sample(metrics(), 'awscni_ipamd_error_count', { fn: 'ec2_resync' })).toBe(2);
    h.ec2.clearFaults();
    const ok = okAddresses(await settleAll(h, [h.add('after')]));
    expect(ok).toHaveLength(1);
  });

  it('show each pool action in progress while EC2 works on it, and none once the pool is settled', async () => {
    const { h, metrics } = node();
    await h.start();
    await h.run(10_000);
    expect(await sample(metrics(), 'awscni_ipamd_action_inprogress')).toBe(0);
    const pending = Array.from({ length: 11 }, (_, i) => h.add(`q${i}`));
    let seen = 0;
    for (let i = 0; i < 50 && seen === 0; i++) {
      await h.run(10);
      seen = await sample(metrics(), 'awscni_ipamd_action_inprogress');
    }
    expect(seen, 'an action was under way').toBeGreaterThan(0);
    await settleAll(h, pending);
    await h.run(10_000);
    expect(await sample(metrics(), 'awscni_ipamd_action_inprogress')).toBe(0);
  });

  it('report the pool blocked while the driver backs off after EC2 refused, and not once it grows again', async () => {
    const { h, metrics } = node();
    h.ec2.failAlways('assign', () => ec2Error('throttled', 'RequestLimitExceeded'));
    await h.start();
    await h.run(3_000);
    // Short of MINIMUM_IP_TARGET, the planner wants addresses; the driver waits out its back-off.
    expect(await sample(metrics(), 'eniipam_pool_blocked')).toBe(1);
    h.ec2.clearFaults();
    await h.run(60_000);
    expect(await sample(metrics(), 'eniipam_pool_blocked')).toBe(0);
  });
});
