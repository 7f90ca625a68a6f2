import { expect } from 'vitest';
import type { AddOutcome } from '../../../agent/cni-backend.js';
import type { AgentHarness } from './agent-harness.js';

/** Runs simulated time until every pending ADD has an answer (or `limitMs` passed), then returns them. */
export async function settleAll(
  h: AgentHarness,
  pending: Promise<AddOutcome>[],
  limitMs = 60_000,
): Promise<AddOutcome[]> {
  let done = 0;
  for (const p of pending) void p.then(() => done++);
  await h.clock.runUntil(() => done === pending.length, limitMs);
  expect(done, 'every ADD answered').toBe(pending.length);
  return Promise.all(pending);
}

/**
 * What must hold between the agent and EC2 whenever the node is quiet: every address the agent
 * knows is on EC2 on the same ENI and every pod address EC2 has is known to the agent (none
 * leaked, none phantom); no address is held by two keys; every count is the size of its set.
 */
export function expectAgentMatchesEc2(h: AgentHarness): void {
  const { datastore } = h.agent.view();
  const records = datastore.addressRecords();
  const known = records.map((r) => r.address);
  expect(new Set(known).size, 'each address once in the datastore').toBe(known.length);
  expect([...known].sort()).toEqual([...h.ec2.podAddresses()].sort());
  for (const r of records) {
    const eni = h.ec2.enis.get(r.eniId);
    expect(eni, `ENI ${r.eniId} of ${r.address} exists on EC2`).toBeDefined();
  }
  expect(
    datastore
      .enis()
      .map((e) => e.id)
      .sort(),
  ).toEqual([...h.ec2.enis.keys()].sort());
  const assignments = datastore.assignments();
  const held = assignments.map((a) => a.address);
  expect(new Set(held).size, 'no address held by two keys').toBe(held.length);
  const keys = assignments.map((a) => `${a.key.containerId}/${a.key.ifName}`);
  expect(new Set(keys).size).toBe(keys.length);
  const totals = datastore.totals();
  expect(totals.total).toBe(records.length);
  expect(totals.assigned).toBe(assignments.length);
  expect(totals.assigned + totals.cooling + totals.free).toBe(totals.total);
}

export function okAddresses(outcomes: readonly AddOutcome[]): string[] {
  return outcomes.flatMap((o) => (o.kind === 'ok' ? [o.result.ips[0]!.address.split('/')[0]!] : []));
}

export function failures(outcomes: readonly AddOutcome[]): Extract<AddOutcome, { kind: 'failure' }>[] {
  return outcomes.filter((o): o is Extract<AddOutcome, { kind: 'failure' }> => o.kind === 'failure');
}

/** Runs simulated time until the pool driver has no EC2 work under way (settled() alone would wait for time that never moves). */
export async function quiesce(h: AgentHarness, limitMs = 60_000): Promise<void> {
  let idle = false;
  void h.agent.settled().then(() => {
    idle = true;
  });
  await h.clock.runUntil(() => idle, limitMs);
  expect(idle, 'the pool driver went idle').toBe(true);
}
