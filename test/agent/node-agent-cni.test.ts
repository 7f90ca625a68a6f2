import { describe, expect, it } from 'vitest';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import {
  expectAgentMatchesEc2,
  failures,
  okAddresses,
  quiesce,
  settleAll,
} from './fakes/agent-invariants.js';

describe('CNI calls at the edges', () => {
  it('an ADD whose plugin hung up while waiting keeps nothing; the ones behind it are served in order', async () => {
    const h = new AgentHarness(
      settings({ WARM_IP_TARGET: '1', MINIMUM_IP_TARGET: '1' }, { addWaitMs: 20_000 }),
    );
    await h.start();
    await h.run(5_000);
    okAddresses(await settleAll(h, [h.add('first')]));
    const hangUp = new AbortController();
    const gone = h.add('gone', hangUp.signal);
    const behind = h.add('behind');
    hangUp.abort();
    const [goneOutcome, behindOutcome] = await settleAll(h, [gone, behind]);
    expect(goneOutcome).toMatchObject({ kind: 'failure', cniCode: 11 });
    expect(behindOutcome!.kind).toBe('ok');
    await quiesce(h);
    expect(h.agent.view().datastore.assignmentOf({ containerId: 'gone', ifName: 'eth0' })).toBeUndefined();
    expect(h.agent.view().datastore.totals().assigned).toBe(2);
    expectAgentMatchesEc2(h);
  });

  it('a DEL for an attachment whose ADD still waits cancels that ADD: the address never goes to a deleted container', async () => {
    const h = new AgentHarness(
      settings({ WARM_IP_TARGET: '1', MINIMUM_IP_TARGET: '1' }, { addWaitMs: 20_000 }),
    );
    await h.start();
    await h.run(5_000);
    okAddresses(await settleAll(h, [h.add('first')]));
    // The pool holds no free address now: this ADD waits for EC2.
    const waiting = h.add('deleted');
    await h.run(1);
    expect(h.agent.view().waiting).toBe(1);
    expect(await h.del('deleted')).toEqual({ kind: 'ok' });
    const [outcome] = await settleAll(h, [waiting]);
    expect(outcome).toMatchObject({ kind: 'failure', cniCode: 11 });
    await quiesce(h);
    expect(h.agent.view().datastore.assignmentOf({ containerId: 'deleted', ifName: 'eth0' })).toBeUndefined();
    expect(h.agent.view().datastore.totals().assigned).toBe(1);
  });

  async function fullNode(): Promise<AgentHarness> {
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }));
    await h.start();
    await h.run(5_000);
    expect(await h.agent.backend.status()).toEqual({ kind: 'ok' });
    const outcomes = await settleAll(
      h,
      Array.from({ length: 29 }, (_, i) => h.add(`c${i}`)),
    );
    // m5.large: 3 ENIs x 9 = 27 addresses for pods (max pods 29 counts 2 host-network pods too).
    expect(okAddresses(outcomes)).toHaveLength(27);
    // The 2 beyond the addresses the node can hold fail at once, saying so.
    expect(failures(outcomes)).toHaveLength(2);
    for (const f of failures(outcomes)) expect(f.message).toMatch(/max pods: .* of 27 it can hold/);
    return h;
  }

  // STATUS compares with the addresses the node can hold (27 here), not max pods (29, which counts
  // the 2 host-network pods that hold no address of ours).
  it('STATUS says "not available" (50) when every address the node can hold is assigned, ok again after a DEL', async () => {
    const h = await fullNode();
    expect(await h.agent.backend.status()).toMatchObject({ kind: 'failure', cniCode: 50 });
    await h.del('c0');
    expect(await h.agent.backend.status()).toEqual({ kind: 'ok' });
  });

  it('a released address is still cooling after a kill -9 and restart: not handed out again before its time', async () => {
    const h = new AgentHarness(
      settings({ WARM_IP_TARGET: '1', MINIMUM_IP_TARGET: '1' }, { ipCooldownMs: 30_000 }),
    );
    await h.start();
    await h.run(5_000);
    const [address] = okAddresses(await settleAll(h, [h.add('a')]));
    await h.del('a');
    await h.restart();
    const record = h.agent
      .view()
      .datastore.addressRecords()
      .find((r) => r.address === address);
    expect(record?.state.type).toBe('cooling');
    const next = okAddresses(await settleAll(h, [h.add('b'), h.add('c')]));
    expect(next).not.toContain(address);
    await h.run(31_000);
    expect(
      h.agent
        .view()
        .datastore.addressRecords()
        .find((r) => r.address === address)?.state.type,
    ).not.toBe('cooling');
  });

  it('a repeated DEL, and a DEL for a container that never had an address, are ok and release nothing else', async () => {
    const h = new AgentHarness(settings());
    await h.start();
    await h.run(5_000);
    okAddresses(await settleAll(h, [h.add('a'), h.add('b')]));
    expect(await h.del('a')).toEqual({ kind: 'ok' });
    expect(await h.del('a')).toEqual({ kind: 'ok' });
    expect(await h.del('never')).toEqual({ kind: 'ok' });
    expect(h.agent.view().datastore.totals()).toMatchObject({ assigned: 1, cooling: 1 });
  });
});
