import { describe, expect, it } from 'vitest';
import { AgentHarness, addressOf, settings } from './fakes/agent-harness.js';
import { settleAll } from './fakes/agent-invariants.js';

describe('NodeAgent on a fake EC2', () => {
  it('fills the warm pool at start: WARM_ENI_TARGET=1 keeps one ENI worth of free addresses', async () => {
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }));
    await h.start();
    await h.run(10_000);
    const view = h.agent.view();
    expect(view.limits).toMatchObject({ maxEnis: 3, ipv4PerEni: 10, maxPods: 29 });
    expect(view.datastore.totals()).toMatchObject({ assigned: 0, free: 9 });
    expect(h.ec2.allAddresses()).toHaveLength(9);
  });

  it('serves a burst of 27 pods on an m5.large with no failed ADD, every address distinct', async () => {
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }));
    await h.start();
    await h.run(5_000);
    const outcomes = await settleAll(
      h,
      Array.from({ length: 27 }, (_, i) => h.add(`c${i}`)),
    );
    const failed = outcomes.filter((o) => o.kind !== 'ok');
    expect(failed).toEqual([]);
    const addresses = outcomes.map(addressOf);
    expect(new Set(addresses).size).toBe(27);
    for (const a of addresses) expect(h.ec2.allAddresses()).toContain(a);
    expect(h.agent.view().datastore.enis()).toHaveLength(3);
  });

  it('fails an ADD beyond the instance capacity at once, naming max pods', async () => {
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }, { addWaitMs: 20_000 }));
    await h.start();
    const started = h.clock.now();
    const outcomes = await settleAll(
      h,
      Array.from({ length: 28 }, (_, i) => h.add(`c${i}`)),
      120_000,
    );
    const failed = outcomes.filter((o) => o.kind !== 'ok');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ kind: 'failure', cniCode: 11 });
    expect(failed[0]!.kind === 'failure' && failed[0]!.message).toMatch(
      /max pods: .* of 27 it can hold \(max pods 29\)/,
    );
    // The 27 that fit were served well within the ADD bound.
    expect(h.clock.now() - started).toBeLessThan(20_000);
  });

  it('gives a repeated ADD for the same container the same address', async () => {
    const h = new AgentHarness(settings());
    await h.start();
    await h.run(5_000);
    const first = addressOf(await h.add('same'));
    const second = addressOf(await h.add('same'));
    expect(second).toBe(first);
    expect(h.agent.view().datastore.totals().assigned).toBe(1);
  });

  it('keeps a released address out of use during IP_COOLDOWN_PERIOD and does not count it as free', async () => {
    const h = new AgentHarness(
      settings({ WARM_IP_TARGET: '1', MINIMUM_IP_TARGET: '1' }, { ipCooldownMs: 30_000 }),
    );
    await h.start();
    await h.run(5_000);
    const first = addressOf(await h.add('a'));
    await h.del('a');
    expect(h.agent.view().datastore.totals()).toMatchObject({ cooling: 1 });
    const next = await settleAll(h, [h.add('b')]);
    expect(addressOf(next[0]!)).not.toBe(first);
    await h.run(31_000);
    expect(h.agent.view().datastore.totals().cooling).toBe(0);
  });

  it('restores assignments from the checkpoint after a crash and never hands one out twice', async () => {
    const h = new AgentHarness(settings());
    await h.start();
    await h.run(5_000);
    const held = (
      await settleAll(
        h,
        Array.from({ length: 12 }, (_, i) => h.add(`c${i}`)),
      )
    ).map(addressOf);
    // A crash: the old agent is simply abandoned; a new one starts on the same checkpoint and EC2.
    h.agent = h.newAgent();
    await h.start();
    const again = (
      await settleAll(
        h,
        Array.from({ length: 12 }, (_, i) => h.add(`c${i}`)),
      )
    ).map(addressOf);
    expect(again).toEqual(held);
    const fresh = (
      await settleAll(
        h,
        Array.from({ length: 10 }, (_, i) => h.add(`n${i}`)),
      )
    ).map(addressOf);
    expect(fresh.filter((a) => held.includes(a))).toEqual([]);
  });

  it('marks a full subnet and says so when an ADD times out', async () => {
    const h = new AgentHarness(
      settings({ WARM_ENI_TARGET: '0', WARM_IP_TARGET: '1' }, { addWaitMs: 10_000 }),
    );
    h.ec2.subnets[0]!.availableIpCount = 1;
    await h.start();
    const outcomes = await settleAll(h, [h.add('a'), h.add('b')], 60_000);
    const failures = outcomes.filter((o) => o.kind === 'failure');
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]!.kind === 'failure' && failures[0]!.message).toMatch(/subnet subnet-a is full/);
  });
});
