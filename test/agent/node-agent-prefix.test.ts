import { describe, expect, it } from 'vitest';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import {
  expectAgentMatchesEc2,
  quiesce,
  failures,
  okAddresses,
  settleAll,
} from './fakes/agent-invariants.js';

const PD = { ENABLE_PREFIX_DELEGATION: 'true', WARM_PREFIX_TARGET: '1' };

async function burst(h: AgentHarness, count: number, limitMs = 60_000): ReturnType<typeof settleAll> {
  return settleAll(
    h,
    Array.from({ length: count }, (_, i) => h.add(`c${i}`)),
    limitMs,
  );
}

describe('prefix delegation bursts', () => {
  it('starts with exactly WARM_PREFIX_TARGET free /28 on an m5.4xlarge', async () => {
    const h = new AgentHarness(settings(PD), 'm5.4xlarge');
    await h.start();
    await h.run(10_000);
    expect(h.agent.view().limits).toMatchObject({ maxEnis: 8, ipv4PerEni: 30, maxPods: 110, prefixes: true });
    expect(h.ec2.allPrefixes()).toHaveLength(1);
    expect(h.ec2.allAddresses()).toHaveLength(0);
    expect(h.agent.view().datastore.totals()).toMatchObject({ total: 16, free: 16, assigned: 0 });
    expectAgentMatchesEc2(h);
  });

  it('serves a burst up to max pods (110) on an m5.4xlarge: no failed ADD, distinct addresses, counts equal EC2 /28s x 16', async () => {
    const h = new AgentHarness(settings(PD), 'm5.4xlarge');
    await h.start();
    await h.run(5_000);
    const outcomes = await burst(h, 110);
    expect(failures(outcomes)).toEqual([]);
    const addresses = okAddresses(outcomes);
    expect(new Set(addresses).size).toBe(110);
    for (const a of addresses) expect(h.ec2.podAddresses()).toContain(a);
    await h.run(10_000);
    await quiesce(h);
    const totals = h.agent.view().datastore.totals();
    expect(totals.assigned).toBe(110);
    expect(totals.total).toBe(h.ec2.allPrefixes().length * 16);
    // Max pods caps the pool: the last /28 may reach up to 15 past it, never a whole /28 more.
    expect(totals.total).toBeLessThan(110 + 16);
    expectAgentMatchesEc2(h);
  });

  it('serves a burst of 200 pods on an m5.8xlarge (max pods 250): no failed ADD, /28s x 16 equal the datastore', async () => {
    const h = new AgentHarness(settings(PD), 'm5.8xlarge');
    await h.start();
    await h.run(5_000);
    const outcomes = await burst(h, 200);
    expect(failures(outcomes)).toEqual([]);
    expect(new Set(okAddresses(outcomes)).size).toBe(200);
    await h.run(10_000);
    await quiesce(h);
    const totals = h.agent.view().datastore.totals();
    expect(totals.assigned).toBe(200);
    expect(totals.total).toBe(h.ec2.allPrefixes().length * 16);
    // WARM_PREFIX_TARGET=1: one wholly free /28 once the burst is served, not an ENI's worth.
    expect(Math.floor(totals.free / 16)).toBe(1);
    expectAgentMatchesEc2(h);
  });

  it('serves 200 pods at once on an m5.4xlarge with default settings (secondary IPs): no failed ADD', async () => {
    const h = new AgentHarness(settings(), 'm5.4xlarge');
    await h.start();
    await h.run(5_000);
    const outcomes = await burst(h, 200);
    expect(failures(outcomes)).toEqual([]);
    expect(new Set(okAddresses(outcomes)).size).toBe(200);
    await h.run(10_000);
    await quiesce(h);
    expect(h.agent.view().datastore.enis().length).toBeLessThanOrEqual(8);
    expectAgentMatchesEc2(h);
  });

  // Pods beyond max pods must not wait for nothing: ADDs already waiting count against max pods.
  it('fails ADDs beyond max pods at once, with a message naming max pods, when 200 arrive together on an m5.4xlarge', async () => {
    const h = new AgentHarness(settings(PD), 'm5.4xlarge');
    await h.start();
    await h.run(5_000);
    const started = h.clock.now();
    const answeredAt: number[] = [];
    const pending = Array.from({ length: 200 }, (_, i) =>
      h.add(`c${i}`).then((o) => {
        answeredAt.push(h.clock.now() - started);
        return o;
      }),
    );
    const outcomes = await settleAll(h, pending);
    expect(okAddresses(outcomes)).toHaveLength(110);
    const failed = failures(outcomes);
    expect(failed).toHaveLength(90);
    for (const f of failed) expect(f.message).toMatch(/max pods/);
    expect(h.agent.view().datastore.totals().assigned).toBeLessThanOrEqual(110);
  });
});
