import { describe, expect, it } from 'vitest';
import type { AddOutcome } from '../../agent/cni-backend.js';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import {
  expectAgentMatchesEc2,
  quiesce,
  failures,
  okAddresses,
  settleAll,
} from './fakes/agent-invariants.js';

/** mulberry32: a tiny seeded generator, so each seed replays the same kill point. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BURST = 50;
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

/**
 * kill -9 is modelled by AgentHarness.kill(): the process's checkpoint handle stops making anything
 * durable (an ADD not answered by then never is), its timers stop, and the EC2 requests it already
 * sent still complete at EC2. Simply abandoning the object would be wrong both ways: it would keep
 * planning, calling EC2 and writing the shared checkpoint after its "death".
 */
describe('restart after kill -9 in the middle of a burst', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: no address held twice, answered pods keep theirs, nothing on EC2 leaked`, async () => {
      const next = random(seed);
      // m5.xlarge: 4 ENIs x 14 slots; a burst of 50 needs ENIs created while pods wait.
      const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }), 'm5.xlarge');
      await h.start();
      await h.run(Math.floor(next() * 4_000));

      const answered = new Map<string, string>();
      let dead = false;
      const ids = Array.from({ length: BURST }, (_, i) => `c${i}`);
      for (const id of ids) {
        void h.add(id).then((o: AddOutcome) => {
          if (!dead && o.kind === 'ok') answered.set(id, o.result.ips[0]!.address.split('/')[0]!);
        });
      }
      // The kill lands anywhere from before the first answer to after ENIs attached.
      await h.run(Math.floor(next() * 6_000));
      h.kill();
      dead = true;
      const answeredBeforeKill = new Map(answered);
      await h.run(Math.floor(next() * 3_000));

      h.agent = h.newAgent();
      await h.start();
      expectNoAddressTwice(h);

      // The runtime retries: a pod that got an answer asks again (same container) and must get the
      // same address; one that did not gets a DEL for its failed sandbox, then a new sandbox.
      // Kubelet retries a failed sandbox too.
      const retries = await settleAll(
        h,
        ids.map((id) =>
          answeredBeforeKill.has(id) ? h.add(id) : h.del(id).then(() => addLikeKubelet(h, `${id}-retry`)),
        ),
        5 * 60_000,
      );
      expect(failures(retries).map((f) => f.message)).toEqual([]);
      const again = okAddresses(retries);
      for (const [i, id] of ids.entries()) {
        const before = answeredBeforeKill.get(id);
        if (before !== undefined) expect(again[i], `pod ${id} keeps its address`).toBe(before);
      }
      expect(new Set(again).size).toBe(BURST);
      expectNoAddressTwice(h);

      // After a resync (EC2 work the dead agent had sent has landed) and the cooldowns: every address
      // EC2 holds for the node is known, and only the live pods hold one.
      await h.run(2 * 60_000);
      await quiesce(h);
      expectAgentMatchesEc2(h);
      const totals = h.agent.view().datastore.totals();
      expect(totals.assigned).toBe(BURST);
      expect(totals.cooling).toBe(0);
      expect(totals.free).toBe(totals.total - BURST);
    });
  }

  // The dead agent's CreateNetworkInterface + AttachNetworkInterface land after the new agent listed
  // the attached ENIs. The new agent, believing it has room, creates ENIs and EC2 answers
  // AttachmentLimitExceeded: that contradicts its own count, so it resyncs with EC2 at once instead
  // of waiting for the periodic resync (60 s) while free addresses sit on ENIs it does not know.
  it('after a restart, EC2 saying AttachmentLimitExceeded while the agent counts fewer ENIs makes it look at EC2 at once', async () => {
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }), 'm5.large');
    await h.start();
    await h.run(5_000);
    for (let i = 0; i < 20; i++) void h.add(`c${i}`);
    await h.run(1_000); // two ENIs are being attached (create 400 ms, attach 2 s)
    h.kill();
    h.agent = h.newAgent();
    await h.start();
    const started = h.clock.now();
    const retried = settleAll(
      h,
      Array.from({ length: 20 }, (_, i) => h.del(`c${i}`).then(() => h.add(`c${i}-retry`))),
    );
    await h.clock.runUntil(() => h.agent.view().datastore.enis().length === 3, 60_000);
    // Known within seconds of the refusal, not at the 60 s resync.
    expect(h.clock.now() - started).toBeLessThan(10_000);
    const outcomes = await retried;
    // The primary ENI's 9 addresses were answered before the kill: their DELs put them in a 30 s
    // cooldown, longer than the 20 s ADD bound, so 18 addresses can be served now, and no more.
    expect(okAddresses(outcomes)).toHaveLength(18);
    expectNoAddressTwice(h);
  });

  it('a second kill right after the restart, before any answer, loses nothing either', async () => {
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }), 'm5.xlarge');
    await h.start();
    await h.run(5_000);
    const first = okAddresses(
      await settleAll(
        h,
        Array.from({ length: 10 }, (_, i) => h.add(`a${i}`)),
      ),
    );
    for (let i = 0; i < 20; i++) void h.add(`b${i}`);
    await h.run(500);
    await h.restart();
    for (let i = 0; i < 20; i++) void h.add(`c${i}`);
    await h.restart();
    const again = okAddresses(
      await settleAll(
        h,
        Array.from({ length: 10 }, (_, i) => h.add(`a${i}`)),
      ),
    );
    expect(again).toEqual(first);
    expectNoAddressTwice(h);
  });
});

/** The runtime's retry of a sandbox whose ADD said "try again later", a few times, 10 s apart. */
async function addLikeKubelet(h: AgentHarness, id: string, tries = 10): Promise<AddOutcome> {
  let outcome = await h.add(id);
  for (let i = 1; i < tries && outcome.kind === 'failure' && outcome.cniCode === 11; i++) {
    await h.clock.sleep(10_000);
    outcome = await h.add(id);
  }
  return outcome;
}

function expectNoAddressTwice(h: AgentHarness): void {
  const held = h.agent
    .view()
    .datastore.assignments()
    .map((a) => a.address);
  expect(new Set(held).size).toBe(held.length);
}
