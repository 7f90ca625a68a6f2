import { describe, expect, it } from 'vitest';
import { shortageForEvents } from '../../agent/agent-views.js';
import {
  announce,
  ShortageAnnouncer,
  type Announcement,
  type AnnouncerState,
} from '../../agent/shortage-announcer.js';
import { silentLogger } from '../../agent/logger.js';
import type { Shortage } from '../../ipam/pool-rules.js';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import { failures, okAddresses, quiesce, settleAll } from './fakes/agent-invariants.js';

const TIMING = { holdMs: 30_000, repeatMs: 300_000 };
const ENI_LIMIT: Shortage = { cause: 'eni-limit', message: 'the node is at its ENI limit: 3 of 3 ENIs' };
const SUBNET_FULL: Shortage = { cause: 'subnet-full', message: 'subnet subnet-a is full' };

/** Feeds `announce` one observation per step (at the given times) and collects what it writes. */
function replay(
  steps: readonly (readonly [number, Shortage | undefined])[],
): [number, string, string, number?][] {
  let state: AnnouncerState = {};
  const written: [number, string, string, number?][] = [];
  for (const [at, observed] of steps) {
    const step = announce(state, observed, at, TIMING);
    state = step.state;
    const e = step.event;
    if (e) written.push(e.type === 'Warning' ? [at, e.type, e.cause, e.count] : [at, e.type, e.cause]);
  }
  return written;
}

/** One observation every 10 s from `from` to `to` (inclusive). */
function every10s(
  from: number,
  to: number,
  observed: Shortage | undefined,
): [number, Shortage | undefined][] {
  const steps: [number, Shortage | undefined][] = [];
  for (let at = from; at <= to; at += 10_000) steps.push([at, observed]);
  return steps;
}

describe('announce: few events, each meaning something', () => {
  it.each([
    ['a shortage shorter than the hold: nothing', every10s(0, 20_000, ENI_LIMIT), []],
    [
      'a lasting shortage: one Warning at the hold, a repeat every 5 min, nothing between',
      every10s(0, 700_000, ENI_LIMIT),
      [
        [30_000, 'Warning', 'eni-limit', 1],
        [330_000, 'Warning', 'eni-limit', 2],
        [630_000, 'Warning', 'eni-limit', 3],
      ],
    ],
    [
      'over once it has been gone for the hold: one Normal',
      [...every10s(0, 60_000, ENI_LIMIT), ...every10s(70_000, 130_000, undefined)],
      [
        [30_000, 'Warning', 'eni-limit', 1],
        [100_000, 'Normal', 'eni-limit'],
      ],
    ],
    [
      'a shortage that was never reported ends without a Normal',
      [...every10s(0, 20_000, ENI_LIMIT), ...every10s(30_000, 100_000, undefined)],
      [],
    ],
    [
      'brief clears (a retry in flight) neither end nor restart it',
      [
        [0, SUBNET_FULL],
        [10_000, undefined],
        [20_000, SUBNET_FULL],
        [30_000, undefined],
        [40_000, SUBNET_FULL],
        [50_000, SUBNET_FULL],
        [60_000, undefined],
        [70_000, SUBNET_FULL],
      ],
      [[40_000, 'Warning', 'subnet-full', 1]],
    ],
    [
      'a new cause is reported at once after the hold, alternating causes at most once per hold',
      [
        ...every10s(0, 30_000, SUBNET_FULL),
        [40_000, ENI_LIMIT],
        [50_000, SUBNET_FULL],
        [60_000, ENI_LIMIT],
        [70_000, ENI_LIMIT],
      ],
      [
        [30_000, 'Warning', 'subnet-full', 1],
        [60_000, 'Warning', 'eni-limit', 1],
      ],
    ],
  ] as const)('%s', (_name, steps, expected) => {
    expect(replay(steps)).toEqual(expected);
  });

  it('names the cause and its figures', () => {
    const first = announce({}, ENI_LIMIT, 0, TIMING);
    const { event } = announce(first.state, ENI_LIMIT, 30_000, TIMING);
    expect(event).toEqual({
      type: 'Warning',
      cause: 'eni-limit',
      message: 'the address pool is short and cannot grow: the node is at its ENI limit: 3 of 3 ENIs',
      count: 1,
    });
  });

  it('an hour of a flapping shortage (short 20 s, clear 20 s) writes at most one event per hold', () => {
    const steps: [number, Shortage | undefined][] = [];
    for (let at = 0; at < 3_600_000; at += 10_000)
      steps.push([at, Math.floor(at / 20_000) % 2 === 0 ? ENI_LIMIT : undefined]);
    const written = replay(steps);
    // Clears of 20 s never last the hold: one shortage, repeated every 5 minutes.
    expect(written.length).toBeLessThanOrEqual(1 + 3_600_000 / TIMING.repeatMs);
    expect(written.every(([, type]) => type === 'Warning')).toBe(true);
  });
});

describe('a full node is reported through events (the agent on fake EC2)', () => {
  it('at its ENI limit: one Warning naming the limit, no storm while it lasts, a Normal once pods leave', async () => {
    const h = new AgentHarness(settings({ WARM_IP_TARGET: '2' }), 't3.medium');
    await h.start();
    const written: Announcement[] = [];
    const announcer = new ShortageAnnouncer({
      clock: h.clock,
      logger: silentLogger(),
      observe: () => shortageForEvents(h.agent.view()),
      sink: { record: (e) => written.push(e) },
    });
    const stop = new AbortController();
    const running = announcer.run(stop.signal);

    // t3.medium: 3 ENIs x 5 secondary addresses = 15 pod addresses; 15 pods fill the node.
    const outcomes = await settleAll(
      h,
      Array.from({ length: 15 }, (_, i) => h.add(`p${i}`)),
    );
    expect(failures(outcomes)).toEqual([]);
    expect(okAddresses(outcomes)).toHaveLength(15);
    await quiesce(h);
    // Ready all along: the warm target (2 free) cannot be met, and that is not a readiness matter.
    expect(h.agent.view().ready).toBe(true);

    await h.run(20 * 60_000);
    const warnings = written.filter((e) => e.type === 'Warning');
    expect(warnings[0]).toMatchObject({ type: 'Warning', cause: 'eni-limit', count: 1 });
    expect(warnings[0]?.message).toMatch(/ENI limit: 3 of 3 ENIs attached/);
    // Twenty minutes of the same shortage: the first event and one repeat per 5 minutes.
    expect(warnings.length).toBeGreaterThanOrEqual(4);
    expect(warnings.length).toBeLessThanOrEqual(5);
    expect(new Set(warnings.map((w) => w.cause))).toEqual(new Set(['eni-limit']));

    // Pods leave: once their cooldown passes the pool holds its warm target again.
    for (let i = 0; i < 4; i++) await h.del(`p${i}`);
    await h.run(2 * 60_000);
    expect(written.at(-1)).toMatchObject({ type: 'Normal', cause: 'eni-limit' });
    const total = written.length;
    await h.run(10 * 60_000);
    expect(written).toHaveLength(total);

    stop.abort();
    await running;
  });
});
