import { describe, expect, it } from 'vitest';
import { PlanInputError } from '../../cli/errors.js';
import { parsePlanInput, planDocument, run, type PlanIo } from '../../cli/plan.js';

const node = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    limits: { maxEnis: 4, ipv4PerEni: 15, maxPods: 500, prefixes: false },
    env: { WARM_ENI_TARGET: '1', WARM_IP_TARGET: '0' },
    enis: [{ id: 'eni-a', primary: true, ips: 3, assigned: 1, cooldown: 0, prefixes: 0 }],
    pending: 0,
    ...overrides,
  });

function problemsOf(text: string): readonly string[] {
  try {
    parsePlanInput(text);
  } catch (err) {
    if (err instanceof PlanInputError) return err.problems;
    throw err;
  }
  throw new Error('expected a PlanInputError');
}

function io(stdin: string | undefined) {
  const out: string[] = [];
  const err: string[] = [];
  const fake: PlanIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    readStdin: () => Promise.resolve(stdin),
  };
  return { fake, out: () => out.join(''), err: () => err.join('') };
}

describe('eni-ipam plan: input', () => {
  it('the issue example: WARM_ENI_TARGET=1 tops up the primary ENI', () => {
    expect(planDocument(node())).toEqual({
      poolTooLow: true,
      poolTooHigh: false,
      short: 12,
      over: 0,
      actions: [
        { type: 'assignIps', eni: 'eni-a', count: 11 },
        { type: 'createEni', count: 14 },
      ],
      capacity: 56,
    });
  });

  it('env goes through the agent parser', () => {
    expect(planDocument(node({ env: { WARM_IP_TARGET: '4', MINIMUM_IP_TARGET: '6' } }))).toMatchObject({
      short: 3,
      actions: [{ type: 'assignIps', eni: 'eni-a', count: 3 }],
    });
    expect(problemsOf(node({ env: { WARM_IP_TARGET: 'abc' } }))).toEqual([
      'env.WARM_IP_TARGET="abc": expected a whole number >= 0',
    ]);
  });

  it('names every bad field', () => {
    const problems = problemsOf(
      JSON.stringify({
        limits: { maxEnis: 0, ipv4PerEni: 15, maxPods: 500, prefixes: 'no', maxEni: 2 },
        env: { WARM_IPS: '1' },
        enis: [
          { id: 'eni-a', primary: true, ips: 3, assigned: 1 },
          { id: 'eni-b', ips: 3, assigned: -1 },
          { ips: 2 },
        ],
        pending: 1.5,
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'limits.maxEnis: expected a whole number >= 1',
        'limits.prefixes: expected true or false',
        'limits: unknown field "maxEni"',
        'enis[1].assigned: expected a whole number >= 0',
        'enis[2].id: required: an ENI id',
        'pending: expected a whole number >= 0',
      ]),
    );
  });

  it('rejects unknown env variables, so a typo does not pass silently', () => {
    expect(problemsOf(node({ env: { WARM_IPS_TARGET: '1' } }))[0]).toMatch(
      /^env\.WARM_IPS_TARGET: not a warm-pool setting/,
    );
  });

  it('checks assigned + cooldown against the addresses, and the slots of an ENI', () => {
    expect(
      problemsOf(node({ enis: [{ id: 'eni-a', primary: true, ips: 3, assigned: 2, cooldown: 2 }] })),
    ).toEqual(["enis[0]: assigned + cooldown = 4 exceeds the ENI's 3 addresses (ips + prefixes x 16)"]);
    expect(() =>
      parsePlanInput(node({ enis: [{ id: 'eni-a', primary: true, prefixes: 1, assigned: 16 }] })),
    ).not.toThrow();
    expect(problemsOf(node({ enis: [{ id: 'eni-a', primary: true, ips: 15 }] }))).toEqual([
      'enis[0]: ips + prefixes = 15 exceeds the 14 secondary slots of an ENI (limits.ipv4PerEni - 1)',
    ]);
  });

  it('checks ENI ids and the primary', () => {
    expect(problemsOf(node({ enis: [{ id: 'eni-a' }, { id: 'eni-a' }] }))).toEqual([
      'enis[1].id: "eni-a" appears twice',
    ]);
    expect(
      problemsOf(
        node({
          enis: [
            { id: 'eni-a', primary: true },
            { id: 'eni-b', primary: true },
          ],
        }),
      ),
    ).toEqual(['enis: 2 ENIs say primary: true; a node has one']);
  });

  it('ENABLE_PREFIX_DELEGATION must agree with limits.prefixes', () => {
    expect(problemsOf(node({ env: { ENABLE_PREFIX_DELEGATION: 'true' } }))).toEqual([
      'env.ENABLE_PREFIX_DELEGATION="true" disagrees with limits.prefixes=false',
    ]);
  });

  it('reads the optional fields', () => {
    const { state, settings } = parsePlanInput(
      node({
        limits: { maxEnis: 3, ipv4PerEni: 10, maxPods: 110, prefixes: true, primaryEniExcluded: true },
        env: { ENABLE_PREFIX_DELEGATION: 'true', WARM_PREFIX_TARGET: '1' },
        enis: [
          { id: 'eni-a', primary: true },
          { id: 'eni-b', prefixes: 1, busy: true, full: false, subnetId: 'subnet-b', pool: 'db' },
        ],
        pending: 1,
        inFlight: 1,
        enisInFlight: 1,
        eniLimitReached: true,
        pinned: [{ pool: 'db', waiting: 2, inFlight: 1 }],
        overTargetSeconds: 30,
        blocker: { kind: 'throttled', detail: 'RequestLimitExceeded' },
      }),
    );
    expect(settings).toMatchObject({
      limits: { primaryEniExcluded: true, prefixes: true },
      targets: { warmPrefixTarget: 1, prefixDelegation: true },
    });
    expect(state).toMatchObject({
      enis: [
        { id: 'eni-a', primary: true, ips: 0, prefixes: 0, assigned: 0, cooldown: 0 },
        {
          id: 'eni-b',
          primary: false,
          prefixes: 1,
          busy: true,
          full: false,
          subnetId: 'subnet-b',
          pool: 'db',
        },
      ],
      waiting: [{}, { pool: 'db' }, { pool: 'db' }],
      inFlight: { default: { units: 1, enis: 1 }, 'pool:db': { units: 1, enis: 0 } },
      eniLimitReached: true,
      overSince: -30_000,
      blocker: { kind: 'throttled', detail: 'RequestLimitExceeded' },
    });
    expect(state.enis[0]).not.toHaveProperty('busy');
    expect(state.enis[0]).not.toHaveProperty('pool');
  });

  it('a pinned entry names a subnet or a pool', () => {
    expect(problemsOf(node({ pinned: [{ waiting: 1 }] }))).toEqual([
      'pinned[0]: expected a subnetId or a pool (the default pool is "pending")',
    ]);
  });

  it.each([
    ['not json', /^\(input\): not JSON/],
    ['[]', /^\(input\): expected a JSON object/],
    ['{}', /^limits: required: an object/],
  ])('%s is rejected', (text, message) => {
    expect(problemsOf(text)[0]).toMatch(message);
  });
});

describe('eni-ipam plan: the decision the agent takes', () => {
  // Two ENIs of 14 addresses, one wholly free: one ENI beyond WARM_ENI_TARGET=1.
  const surplus = {
    enis: [
      { id: 'eni-a', primary: true, ips: 14, assigned: 14 },
      { id: 'eni-b', ips: 14 },
      { id: 'eni-c', ips: 14 },
    ],
  };

  it('holds a new surplus back, as the agent does, and says when it goes', () => {
    expect(planDocument(node(surplus))).toMatchObject({
      poolTooHigh: true,
      actions: [],
      heldBack: [{ type: 'deleteEni', eni: 'eni-b' }],
      releaseInSeconds: 60,
    });
  });

  it('releases once the pool has been over its target for the delay', () => {
    const report = planDocument(node({ ...surplus, overTargetSeconds: 60 }));
    expect(report.actions).toEqual([{ type: 'deleteEni', eni: 'eni-b' }]);
    expect(report).not.toHaveProperty('heldBack');
  });

  it('grows pinned placements on demand, and names the ENI limit when none may be added', () => {
    const report = planDocument(
      node({
        limits: { maxEnis: 2, ipv4PerEni: 15, maxPods: 500, prefixes: false },
        enis: [
          { id: 'eni-a', primary: true, ips: 14, assigned: 14 },
          { id: 'eni-b', ips: 2, assigned: 2, subnetId: 'subnet-b', pool: 'db' },
        ],
        pinned: [
          { pool: 'db', waiting: 3 },
          { subnetId: 'subnet-c', waiting: 1 },
        ],
      }),
    );
    expect(report.pinned).toEqual([
      { pool: 'db', waiting: 3, actions: [{ type: 'assignIps', eni: 'eni-b', count: 3 }] },
      { subnetId: 'subnet-c', waiting: 1, actions: [] },
    ]);
    expect(report.blocker).toBe('2 of 2 ENIs in use');
    expect(report.shortage).toBe('the instance is at its ENI limit (2 of 2 ENIs in use)');
  });
});

describe('eni-ipam plan: run', () => {
  it('prints the decision as JSON and exits 0', async () => {
    const { fake, out } = io(node());
    expect(await run([], fake)).toBe(0);
    expect(JSON.parse(out())).toMatchObject({ poolTooLow: true, short: 12 });
  });

  it('exits 1 with the problems on stderr', async () => {
    const { fake, out, err } = io(node({ pending: -1 }));
    expect(await run([], fake)).toBe(1);
    expect(out()).toBe('');
    expect(err()).toBe('eni-ipam plan: pending: expected a whole number >= 0\n');
  });

  it('reports every problem, one per line: fields, each bad setting, and prefix delegation', async () => {
    const { fake, err } = io(
      node({
        limits: { maxEnis: 4, ipv4PerEni: 15, maxPods: 500, prefixes: false },
        env: { WARM_IP_TARGET: 'abc', MAX_ENI: 'x', ENABLE_PREFIX_DELEGATION: 'true' },
        enis: [{ id: 'eni-a', primary: true, ips: 3, assigned: -1, cooldown: 0, prefixes: 0 }],
      }),
    );
    expect(await run([], fake)).toBe(1);
    expect(
      err()
        .split('\n')
        .filter((l) => l !== ''),
    ).toEqual([
      'eni-ipam plan: enis[0].assigned: expected a whole number >= 0',
      'eni-ipam plan: env.WARM_IP_TARGET="abc": expected a whole number >= 0',
      'eni-ipam plan: env.MAX_ENI="x": expected a whole number >= 1',
      'eni-ipam plan: env.ENABLE_PREFIX_DELEGATION="true" disagrees with limits.prefixes=false',
    ]);
  });

  it('exits 2 when nothing is piped in or an option is unknown', async () => {
    const tty = io(undefined);
    expect(await run([], tty.fake)).toBe(2);
    expect(tty.err()).toContain('pipe the node');
    const bad = io(node());
    expect(await run(['--nope'], bad.fake)).toBe(2);
  });

  it('--help prints the usage', async () => {
    const { fake, out } = io(undefined);
    expect(await run(['--help'], fake)).toBe(0);
    expect(out()).toContain('Usage: eni-ipam plan');
  });
});
