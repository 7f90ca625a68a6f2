import { describe, expect, it } from 'vitest';
import type { AddOutcome } from '../../agent/cni-backend.js';
import type { NodeAgentSettings } from '../../agent/node-agent.js';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import {
  expectAgentMatchesEc2,
  quiesce,
  failures,
  okAddresses,
  settleAll,
} from './fakes/agent-invariants.js';
import type { Ec2Error } from '../../provider/errors.js';
import { ec2Error } from './fakes/fake-ec2-network.js';

const throttled = (): Ec2Error => ec2Error('throttled', 'RequestLimitExceeded');
// As the provider reports it: a subnet-full error names its subnet (provider/ec2-network.ts).
const subnetFull = (): Ec2Error =>
  ec2Error('subnet-full', 'InsufficientFreeAddressesInSubnet').withSubnet('subnet-a');
const attachmentLimit = (): Ec2Error => ec2Error('limit', 'AttachmentLimitExceeded');
const addressLimit = (): Ec2Error =>
  ec2Error('limit', 'PrivateIpAddressLimitExceeded').withSubnet('subnet-a');

/** Actions the pool driver may run at one instant of simulated time before we call it a busy loop. */
const SPIN_LIMIT = 200;

interface Node {
  h: AgentHarness;
  /** True when the pool driver ran SPIN_LIMIT actions without simulated time moving (see below). */
  spun: () => boolean;
}

/**
 * An m5.large whose pool driver is watched for busy loops: a loop of actions that resolve at once
 * never yields to timers, so the test would hang; past SPIN_LIMIT actions at one instant the agent
 * is closed (its loop ends) and the spin is reported instead.
 */
async function node(env: Record<string, string>, overrides: Partial<NodeAgentSettings> = {}): Promise<Node> {
  let at = -1;
  let count = 0;
  let spun = false;
  const h: AgentHarness = new AgentHarness(settings(env, { addWaitMs: 10_000, ...overrides }), 'm5.large', {
    onAction: () => () => {
      const now = h.clock.now();
      count = now === at ? count + 1 : 1;
      at = now;
      if (count > SPIN_LIMIT && !spun) {
        spun = true;
        void h.agent.close();
      }
    },
  });
  await h.start();
  await h.run(5_000);
  return { h, spun: () => spun };
}

/** WARM_ENI_TARGET=1: the primary holds 9 free addresses; more pods need a new ENI. */
const warmEni = (overrides: Partial<NodeAgentSettings> = {}): Promise<Node> =>
  node({ WARM_ENI_TARGET: '1' }, overrides);
/** One address at a time, on the primary only. */
const oneEni = (): Promise<Node> => node({ WARM_IP_TARGET: '1', MINIMUM_IP_TARGET: '1', MAX_ENI: '1' });

async function burst(
  h: AgentHarness,
  prefix: string,
  count: number,
  limitMs = 60_000,
): Promise<AddOutcome[]> {
  return settleAll(
    h,
    Array.from({ length: count }, (_, i) => h.add(`${prefix}${i}`)),
    limitMs,
  );
}

describe('EC2 failures while pods wait', () => {
  it('rides out a few throttled CreateNetworkInterface calls within the ADD bound', async () => {
    const { h } = await warmEni({ addWaitMs: 20_000 });
    for (let i = 0; i < 3; i++) h.ec2.failNext('create', throttled());
    const outcomes = await burst(h, 'c', 12);
    expect(failures(outcomes)).toEqual([]);
    expect(new Set(okAddresses(outcomes)).size).toBe(12);
    await h.run(5_000);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  it('lasting throttling: the ADD fails naming EC2 throttling; once it stops the pool recovers without a restart', async () => {
    const { h } = await warmEni();
    h.ec2.failAlways('create', throttled);
    const outcomes = await burst(h, 'c', 12);
    const failed = failures(outcomes);
    expect(failed).toHaveLength(3);
    for (const f of failed) {
      expect(f.cniCode).toBe(11);
      expect(f.message).toMatch(/EC2 is throttling/);
    }
    h.ec2.clearFaults();
    const later = await burst(h, 'retry', 3, 60_000);
    expect(failures(later)).toEqual([]);
    expect(new Set([...okAddresses(outcomes), ...okAddresses(later)]).size).toBe(12);
    await h.run(10_000);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  // A failed action must not wake the driver at once: only the retry timer does, with capped
  // doubling back-off, or the node re-sends CreateNetworkInterface as fast as EC2 answers
  // RequestLimitExceeded (51 calls in 10 s before the fix) and spends the account's bucket.
  it('lasting throttling: retries back off (1 s doubling) instead of hammering EC2', async () => {
    const { h } = await warmEni();
    h.ec2.failAlways('create', throttled);
    const start = h.ec2.calls.filter((c) => c === 'create').length;
    await burst(h, 'c', 12);
    // 10 s of waiting: back-off 1, 2, 4 s allows about 4 rounds of (at most) 2 creates each.
    expect(h.ec2.calls.filter((c) => c === 'create').length - start).toBeLessThanOrEqual(2 * 5);
  });

  it('lasting throttling of AssignPrivateIpAddresses: named, then recovered', async () => {
    const { h } = await oneEni();
    h.ec2.failAlways('assign', throttled);
    const outcomes = await burst(h, 'c', 3);
    const failed = failures(outcomes);
    expect(failed).toHaveLength(2);
    for (const f of failed) expect(f.message).toMatch(/EC2 is throttling/);
    h.ec2.clearFaults();
    const later = await burst(h, 'retry', 2);
    expect(failures(later)).toEqual([]);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  it('AssignPrivateIpAddresses saying the subnet is full: the ADD names the subnet; recovered once addresses are back', async () => {
    const { h } = await oneEni();
    h.ec2.failAlways('assign', subnetFull);
    const outcomes = await burst(h, 'c', 3);
    const failed = failures(outcomes);
    expect(failed).toHaveLength(2);
    for (const f of failed) expect(f.message).toMatch(/subnet subnet-a is full/);
    h.ec2.clearFaults();
    const later = await burst(h, 'retry', 2);
    expect(failures(later)).toEqual([]);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  // With every candidate subnet marked full, createEni returns without an EC2 call; treating that as
  // success and waking the driver again was an endless loop of promise callbacks that never yielded
  // to timers or I/O (the guard in node() turns such a loop into a failure instead of a hang).
  it('a subnet that answered full while pods wait does not send the pool driver into a busy loop', async () => {
    const { h, spun } = await warmEni({ subnetFullSkipMs: 60_000 });
    h.ec2.failNext('create', subnetFull());
    for (let i = 0; i < 12; i++) void h.add(`c${i}`);
    await h.run(3_000);
    expect(spun()).toBe(false);
  });

  it('a subnet that answered full: the ADD names it, the subnet is skipped for its window, then used again', async () => {
    const { h, spun } = await warmEni({ subnetFullSkipMs: 60_000 });
    h.ec2.failAlways('create', subnetFull);
    const outcomes = await burst(h, 'c', 12);
    const failed = failures(outcomes);
    expect(failed).toHaveLength(3);
    for (const f of failed)
      expect(f.message).toMatch(/subnet subnet-a is full|every candidate subnet answered "full"/);
    // Addresses are back in the subnet, but within the window no CreateNetworkInterface is spent on it.
    h.ec2.clearFaults();
    const creates = h.ec2.calls.filter((c) => c === 'create').length;
    const early = await burst(h, 'early', 1);
    expect(failures(early)[0]?.message).toMatch(/every candidate subnet answered "full"/);
    expect(h.ec2.calls.filter((c) => c === 'create').length).toBe(creates);
    await h.run(60_000);
    const later = await burst(h, 'later', 3);
    expect(failures(later)).toEqual([]);
    expect(spun()).toBe(false);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  it('AttachmentLimitExceeded: the ADD that times out says the instance is at its ENI limit, nothing double-assigned', async () => {
    const { h } = await warmEni();
    h.ec2.failAlways('create', attachmentLimit);
    const outcomes = await burst(h, 'c', 12);
    const failed = failures(outcomes);
    expect(failed).toHaveLength(3);
    for (const f of failed) expect(f.message).toMatch(/ENI limit/);
    expect(new Set(okAddresses(outcomes)).size).toBe(9);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  // A limit EC2 reported may pass (another tool's ENI detached, a quota raised): the periodic resync
  // forgets it, so the node grows again within one resync interval, without a restart.
  it('AttachmentLimitExceeded that passes: the pool creates ENIs again without a restart', async () => {
    const { h } = await warmEni();
    h.ec2.failAlways('create', attachmentLimit);
    const first = await burst(h, 'c', 12);
    expect(failures(first)).toHaveLength(3);
    h.ec2.clearFaults();
    await h.run(60_000);
    const later = await burst(h, 'retry', 3);
    expect(failures(later).map((f) => f.message)).toEqual([]);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  it('PrivateIpAddressLimitExceeded: the ADD that times out says the ENI is full; nothing double-assigned', async () => {
    const { h } = await oneEni();
    h.ec2.failAlways('assign', addressLimit);
    const outcomes = await burst(h, 'c', 3);
    const failed = failures(outcomes);
    expect(failed).toHaveLength(2);
    for (const f of failed) expect(f.message).toMatch(/holds as many addresses as its instance type allows/);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  it('PrivateIpAddressLimitExceeded that passes: the ENI gets addresses again without a restart', async () => {
    const { h } = await oneEni();
    h.ec2.failNext('assign', addressLimit());
    const first = await burst(h, 'c', 3);
    expect(failures(first)).toHaveLength(2);
    await h.run(60_000);
    const later = await burst(h, 'retry', 5);
    expect(failures(later).map((f) => f.message)).toEqual([]);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });
});
