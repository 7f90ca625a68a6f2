import { describe, expect, it } from 'vitest';
import type { Checkpointer } from '../../agent/checkpoint.js';
import { silentLogger } from '../../agent/logger.js';
import { NodeAgent } from '../../agent/node-agent.js';
import { LINK_WAIT_MS, NodeDatapath } from '../../agent/node-datapath.js';
import { FakeDatapath } from '../../datapath/fake-datapath.js';
import type { RuleSpec } from '../../datapath/model.js';
import { AgentHarness, addressOf, settings } from './fakes/agent-harness.js';
import { settleAll } from './fakes/agent-invariants.js';

/** The agent on the harness's fakes with a datapath whose "kernel" outlives every agent process. */
function harness(kernel = new FakeDatapath()): { h: AgentHarness; kernel: FakeDatapath } {
  const s = settings({ WARM_IP_TARGET: '2', MINIMUM_IP_TARGET: '2' }, { ipCooldownMs: 0 });
  const h = new AgentHarness(s, 'm5.large', {}, (harness, checkpointer) => {
    return new NodeAgent({
      settings: s,
      ec2: harness.ec2,
      clock: harness.clock,
      logger: silentLogger(),
      checkpointer,
      datapath: new NodeDatapath({
        datapath: kernel,
        logger: silentLogger(),
        clock: harness.clock,
        settings: { mtu: 9001, snat: { external: false, excludeCidrs: [], randomize: 'prng' } },
      }),
    });
  });
  return { h, kernel };
}

/** A checkpoint whose saves wait while `hold` is set: a disk that is slow to make a write durable. */
function slowDisk(inner: Checkpointer): Checkpointer & { hold: Promise<void> | undefined } {
  const disk = {
    hold: undefined as Promise<void> | undefined,
    load: () => inner.load(),
    async save(state: unknown) {
      if (disk.hold) await disk.hold;
      return inner.save(state);
    },
    flush: () => inner.flush(),
    close: () => inner.close(),
  };
  return disk;
}

function rulesOf(kernel: FakeDatapath, address: string): RuleSpec[] {
  return kernel.rules.filter((r) => r.src === `${address}/32` || r.dst === `${address}/32`);
}

describe('the agent and the node datapath', () => {
  it("installs a pod's rules before its ADD answers: to-rule always, from-rule by its secondary ENI's table", async () => {
    const { h, kernel } = harness();
    await h.start();
    await h.run(5_000);
    // m5.large: 9 addresses on the primary ENI, so the 10th pod and after live on a secondary ENI.
    const outcomes = await settleAll(
      h,
      Array.from({ length: 12 }, (_, i) => h.add(`p${i}`)),
    );
    for (const outcome of outcomes) {
      expect(outcome.kind).toBe('ok');
      if (outcome.kind !== 'ok') continue;
      const address = addressOf(outcome);
      // The subnet (10.0.0.0/20 here) prefix, behind its AWS-reserved fourth address, not the router.
      expect(outcome.result.ips[0]).toEqual({ address: `${address}/20`, gateway: '10.0.0.3' });
      const assignment = h.agent
        .view()
        .datastore.assignments()
        .find((a) => a.address === address)!;
      const eni = h.agent.view().datastore.eni(assignment.eniId)!;
      const expected: RuleSpec[] = [{ priority: 512, dst: `${address}/32`, table: 'main' }];
      if (!eni.primary)
        expected.push({
          priority: 1536,
          src: `${address}/32`,
          dst: '10.0.0.0/16',
          table: eni.deviceIndex + 1,
        });
      expect(rulesOf(kernel, address)).toEqual(expected);
    }
    const secondary = h.agent
      .view()
      .datastore.enis()
      .filter((e) => !e.primary);
    expect(secondary.length).toBeGreaterThan(0);
    for (const eni of secondary) {
      const table = kernel.routes.filter((r) => r.table === eni.deviceIndex + 1);
      expect(table.map((r) => [r.dst, r.gateway])).toEqual([
        [eni.subnetCidr, undefined],
        ['default', '10.0.0.1'],
      ]);
    }
    expect(kernel.nat?.snat).toBe(true);
  });

  it("removes a pod's rules at DEL, and a reconcile after a restart removes stale rules and restores missing ones", async () => {
    const { h, kernel } = harness();
    await h.start();
    await h.run(5_000);
    const outcomes = await settleAll(
      h,
      Array.from({ length: 11 }, (_, i) => h.add(`p${i}`)),
    );
    const addresses = outcomes.map(addressOf);
    await h.del('p0');
    expect(rulesOf(kernel, addresses[0]!)).toEqual([]);

    // While the agent is down: one pod's rules vanish, and a rule of an address no pod holds appears.
    h.kill();
    kernel.rules = kernel.rules.filter((r) => r.dst !== `${addresses[10]}/32`);
    kernel.rules.push({ priority: 512, dst: '10.0.0.250/32', table: 'main' });
    h.agent = h.newAgent();
    await h.start();
    expect(rulesOf(kernel, addresses[10]!)).toContainEqual({
      priority: 512,
      dst: `${addresses[10]}/32`,
      table: 'main',
    });
    expect(rulesOf(kernel, '10.0.0.250')).toEqual([]);
  });

  it('fails an ADD with "try again" while the rules cannot be written, and serves the retry once they can', async () => {
    const { h, kernel } = harness();
    await h.start();
    await h.run(5_000);
    kernel.failWith = new Error('ip: command not found');
    const [failed] = await settleAll(h, [h.add('x')]);
    expect(failed).toMatchObject({ kind: 'failure', cniCode: 11 });
    if (failed?.kind === 'failure')
      expect(failed.message).toMatch(/routing rules could not be installed: ip: command not found/);
    kernel.failWith = undefined;
    const [retried] = await settleAll(h, [h.add('x')]);
    expect(retried?.kind).toBe('ok');
    expect(rulesOf(kernel, addressOf(retried!))).toHaveLength(1);
  });

  it("writes an ADD's rules while its checkpoint write is under way, and answers only once both are done", async () => {
    const kernel = new FakeDatapath();
    const s = settings({ WARM_IP_TARGET: '2', MINIMUM_IP_TARGET: '2' }, { ipCooldownMs: 0 });
    let disk: ReturnType<typeof slowDisk> | undefined;
    const h = new AgentHarness(s, 'm5.large', {}, (harness, checkpointer) => {
      disk = slowDisk(checkpointer);
      return new NodeAgent({
        settings: s,
        ec2: harness.ec2,
        clock: harness.clock,
        logger: silentLogger(),
        checkpointer: disk,
        datapath: new NodeDatapath({
          datapath: kernel,
          logger: silentLogger(),
          clock: harness.clock,
          settings: { mtu: 9001, snat: { external: false, excludeCidrs: [], randomize: 'prng' } },
        }),
      });
    });
    await h.start();
    await h.run(5_000);
    let release!: () => void;
    disk!.hold = new Promise<void>((resolve) => (release = resolve));
    let answered = false;
    const adding = h.add('slow-disk').then((outcome) => {
      answered = true;
      return outcome;
    });
    await h.run(0);
    // The rules are in while the write is held; the ADD waits for the write.
    const held = h.agent
      .view()
      .datastore.assignments()
      .find((a) => a.key.containerId === 'slow-disk')!;
    expect(rulesOf(kernel, held.address)).toContainEqual({
      priority: 512,
      dst: `${held.address}/32`,
      table: 'main',
    });
    expect(answered).toBe(false);
    disk!.hold = undefined;
    release();
    await h.run(0);
    const outcome = await adding;
    expect(outcome.kind).toBe('ok');
    expect(addressOf(outcome)).toBe(held.address);
  });

  it('writes the rules of ADDs that arrive together in one batch', async () => {
    const { h, kernel } = harness();
    await h.start();
    await h.run(5_000);
    const before = kernel.calls.filter((c) => c === 'addPodRules').length;
    const outcomes = await settleAll(
      h,
      Array.from({ length: 20 }, (_, i) => h.add(`b${i}`)),
    );
    expect(outcomes.every((o) => o.kind === 'ok')).toBe(true);
    const batches = kernel.calls.filter((c) => c === 'addPodRules').length - before;
    expect(batches).toBeLessThanOrEqual(5);
  });

  it("holds the ADD of a pod whose ENI's link has not appeared yet, and answers it once the link is there", async () => {
    const { h, kernel } = harness();
    await h.start();
    await h.run(5_000);
    kernel.presentMacs = new Set([h.agent.view().identity.mac.toLowerCase()]);
    const pending = Array.from({ length: 11 }, (_, i) => h.add(`n${i}`));
    let answered = 0;
    for (const p of pending) void p.then(() => answered++);
    // 9 addresses on the primary ENI serve 9 pods; the other two wait for their ENI's device.
    await h.clock.runUntil(() => answered === 9, 5_000);
    await h.run(LINK_WAIT_MS / 2);
    expect(answered, 'the two pods on the new ENI are still waiting').toBe(9);
    kernel.presentMacs = undefined;
    const outcomes = await settleAll(h, pending);
    expect(outcomes.map((o) => o.kind)).toEqual(Array(11).fill('ok'));
    for (const o of outcomes.slice(9)) {
      const address = addressOf(o);
      expect(rulesOf(kernel, address).some((r) => r.src === `${address}/32`)).toBe(true);
    }
  });

  it('fails the ADD with "try again later" when the ENI\'s link never appears, and serves the retry once it has', async () => {
    const { h, kernel } = harness();
    await h.start();
    await h.run(5_000);
    kernel.presentMacs = new Set([h.agent.view().identity.mac.toLowerCase()]);
    const outcomes = await settleAll(
      h,
      Array.from({ length: 11 }, (_, i) => h.add(`n${i}`)),
    );
    const failed = outcomes.flatMap((o, i) => (o.kind === 'failure' ? [{ i, o }] : []));
    expect(outcomes.filter((o) => o.kind === 'ok')).toHaveLength(9);
    expect(failed).toHaveLength(2);
    for (const { o } of failed) {
      expect(o).toMatchObject({ kind: 'failure', cniCode: 11 });
      if (o.kind === 'failure') expect(o.message).toMatch(/is not ready: no link has MAC/);
    }
    kernel.presentMacs = undefined;
    const retried = await settleAll(
      h,
      failed.map(({ i }) => h.add(`n${i}`)),
    );
    expect(retried.every((o) => o.kind === 'ok')).toBe(true);
  });
});
