import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareAddressSources } from '../../ipam/accounting.js';
import { expandEntry } from '../../ipam/address.js';
import { Datastore, keyString } from '../../ipam/datastore.js';
import { accountAddresses } from './support/address-accounting.js';
import { datastoreFromJson, datastoreToJson, releaseOwner, releasePod } from './support/datastore-helpers.js';
import type {
  AddressState,
  AssignConstraints,
  Assignment,
  AssignmentKey,
  EniInfo,
} from '../../ipam/datastore-types.js';

/**
 * Random sequences of every datastore operation, checked after each step against the invariants
 * and against a model of who holds what:
 * - no address is ever assigned twice, and a cooling address is never handed out before its time;
 * - assign is idempotent per key;
 * - assignments equal the model (lost ones leave only when reported);
 * - every count equals the size of its set, and accounting agrees with the datastore's own sources.
 */

const SUBNETS = [
  { subnetId: 'subnet-a', subnetCidr: '10.0.0.0/24', base: '10.0.0.' },
  { subnetId: 'subnet-b', subnetCidr: '10.1.0.0/24', base: '10.1.0.' },
] as const;

function eniInfo(i: number): EniInfo {
  const subnet = SUBNETS[i % 2]!;
  return {
    id: `eni-${i}`,
    subnetId: subnet.subnetId,
    subnetCidr: subnet.subnetCidr,
    deviceIndex: i,
    primary: i === 0,
    ...(i === 3 ? { pool: 'vms' } : {}),
  };
}

function ipOf(eni: number, offset: number): string {
  return `${SUBNETS[eni % 2]!.base}${offset}`;
}

function prefixOf(eni: number, block: number): string {
  return `${SUBNETS[eni % 2]!.base}${block * 16}/28`;
}

const CONSTRAINTS: AssignConstraints[] = [
  {},
  { subnetId: 'subnet-a' },
  { subnetId: 'subnet-b' },
  { pool: 'vms' },
  { excludePrimaryEni: true },
];

const eni = fc.integer({ min: 0, max: 3 });
const podN = fc.integer({ min: 0, max: 11 });
const ifName = fc.constantFrom('eth0', 'net1');
// Mostly low offsets, so that IPs, prefixes (blocks 1-3 span .16-.63) and ENIs in one subnet collide;
// 0-3 and 255 are addresses AWS reserves, block 0 and 15 hold some: they exercise refusals.
const offset = fc.oneof(
  { arbitrary: fc.integer({ min: 4, max: 70 }), weight: 8 },
  { arbitrary: fc.constantFrom(0, 1, 3, 255, 300), weight: 1 },
);
const offsets = fc.array(offset, { maxLength: 6 });
const blocks = fc.array(
  fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 6 },
    { arbitrary: fc.constantFrom(0, 15), weight: 1 },
  ),
  {
    maxLength: 3,
  },
);

const operation = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('addEni' as const), eni }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('addIps' as const), eni, offsets }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('addPrefixes' as const), eni, blocks }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant('assign' as const),
      pod: podN,
      ifName,
      constraints: fc.integer({ min: 0, max: CONSTRAINTS.length - 1 }),
      impostor: fc.boolean(),
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('release' as const),
      pod: podN,
      ifName,
      cooldown: fc.constantFrom(0, 1000),
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ op: fc.constant('releasePod' as const), pod: podN }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('releaseOwner' as const), pod: podN }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('expire' as const) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('snapshotRestore' as const) }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant('removeIps' as const),
      eni,
      count: fc.integer({ min: 0, max: 4 }),
      offsets,
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('removePrefixes' as const),
      eni,
      count: fc.integer({ min: 0, max: 2 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('reconcile' as const),
      eni,
      keep: fc.array(fc.boolean(), { maxLength: 12 }),
      offsets,
      blocks,
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ op: fc.constant('removeEni' as const), eni, evenIfInUse: fc.boolean() }),
    weight: 1,
  },
);

const step = fc.record({ dt: fc.integer({ min: 0, max: 600 }), operation });

type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

function keyOf(pod: number, ifName: string): AssignmentKey {
  return { containerId: `c${pod}`, ifName };
}

function podRef(pod: number) {
  return { uid: `uid-${pod}`, namespace: 'ns', name: `pod-${pod}` };
}

/** Who holds what, as the test believes it. */
type Model = Map<string, { address: string; podUid: string }>;

function forgetLost(model: Model, lost: readonly Assignment[]): void {
  for (const a of lost) {
    const held = model.get(keyString(a.key));
    expect(held?.address).toBe(a.address);
    model.delete(keyString(a.key));
  }
}

/** Every ENI attached and stocked, so that the random steps mostly act on addresses that exist. */
const stocked = fc.tuple(
  fc.array(offsets, { minLength: 4, maxLength: 4 }),
  fc.array(blocks, { minLength: 4, maxLength: 4 }),
);

function run(
  stock: readonly [readonly (readonly number[])[], readonly (readonly number[])[]],
  steps: readonly Step[],
): void {
  let ds = new Datastore();
  for (let i = 0; i < 4; i++) {
    ds.addEni(eniInfo(i));
    ds.addIps(
      `eni-${i}`,
      (stock[0][i] ?? []).map((n) => ipOf(i, n)),
    );
    ds.addPrefixes(
      `eni-${i}`,
      (stock[1][i] ?? []).map((b) => prefixOf(i, b)),
    );
  }
  const model: Model = new Map();
  let now = 0;
  for (const { dt, operation: o } of steps) {
    now += dt;
    const before = new Map(ds.addressRecords().map((r) => [r.address, r.state] as const));
    switch (o.op) {
      case 'addEni':
        ds.addEni(eniInfo(o.eni));
        break;
      case 'addIps':
        ds.addIps(
          `eni-${o.eni}`,
          o.offsets.map((n) => ipOf(o.eni, n)),
        );
        break;
      case 'addPrefixes':
        ds.addPrefixes(
          `eni-${o.eni}`,
          o.blocks.map((b) => prefixOf(o.eni, b)),
        );
        break;
      case 'assign': {
        const key = keyOf(o.pod, o.ifName);
        const pod = o.impostor ? { ...podRef(o.pod), uid: `other-${o.pod}` } : podRef(o.pod);
        const owner =
          o.pod % 3 === 0
            ? { kind: 'VirtualMachine', namespace: 'ns', name: `vm-${o.pod}`, uid: `vm-${o.pod}` }
            : undefined;
        const result = ds.assign(
          { key, pod, ...(owner ? { owner } : {}), constraints: CONSTRAINTS[o.constraints]! },
          now,
        );
        const held = model.get(keyString(key));
        if (held) {
          if (held.podUid === pod.uid)
            expect(result).toMatchObject({ type: 'assigned', address: held.address, existing: true });
          else
            expect(result.type === 'key-conflict' && [result.address, result.heldBy.uid]).toEqual([
              held.address,
              held.podUid,
            ]);
        } else if (result.type === 'assigned') {
          expect(result.existing).toBe(false);
          expect([...model.values()].map((h) => h.address)).not.toContain(result.address);
          expectAssignable(before.get(result.address), now);
          model.set(keyString(key), { address: result.address, podUid: pod.uid });
        } else {
          expect(result.type).toBe('no-free-address');
        }
        break;
      }
      case 'release': {
        const key = keyOf(o.pod, o.ifName);
        const result = ds.release(key, now, o.cooldown);
        expect(result.type).toBe(model.has(keyString(key)) ? 'released' : 'not-found');
        model.delete(keyString(key));
        break;
      }
      case 'releasePod':
      case 'releaseOwner': {
        const released =
          o.op === 'releasePod'
            ? releasePod(ds, `uid-${o.pod}`, now, 1000)
            : releaseOwner(ds, `vm-${o.pod}`, now, 1000);
        for (const a of released) model.delete(keyString(a.key));
        break;
      }
      case 'expire':
        ds.expireCooldowns(now);
        break;
      case 'snapshotRestore': {
        const restored = datastoreFromJson(datastoreToJson(ds));
        expect(restored.addressRecords()).toEqual(ds.addressRecords());
        ds = restored;
        break;
      }
      case 'removeIps': {
        const id = `eni-${o.eni}`;
        const chosen = [...ds.releasableIps(id).slice(0, o.count), ...o.offsets.map((n) => ipOf(o.eni, n))];
        const result = ds.removeIps(id, chosen);
        for (const ip of result.removed) expect(before.get(ip)).toEqual({ type: 'available' });
        break;
      }
      case 'removePrefixes': {
        const id = `eni-${o.eni}`;
        const sources = ds.sourcesOf(id);
        const result = ds.removePrefixes(id, sources?.prefixes.slice(0, o.count) ?? []);
        // a prefix leaves only when all 16 of its addresses were free; a busy one stays
        for (const prefix of result.removed) {
          for (const address of expandEntry(prefix))
            expect(before.get(address)).toEqual({ type: 'available' });
        }
        for (const { entry } of result.refused) expect(ds.sourcesOf(id)?.prefixes).toContain(entry);
        break;
      }
      case 'reconcile': {
        const id = `eni-${o.eni}`;
        const sources = ds.sourcesOf(id) ?? { ips: [], prefixes: [] };
        const kept = <T>(list: readonly T[]): T[] => list.filter((_, i) => o.keep[i] ?? true);
        const ips = [...kept(sources.ips), ...o.offsets.map((n) => ipOf(o.eni, n))];
        const prefixes = [...kept(sources.prefixes), ...o.blocks.map((b) => prefixOf(o.eni, b))];
        const result = ds.reconcileEni(id, { ips, prefixes });
        forgetLost(model, result.lostWhileAssigned);
        break;
      }
      case 'removeEni': {
        const result = ds.removeEni(`eni-${o.eni}`, { evenIfInUse: o.evenIfInUse });
        if (result.type === 'removed') forgetLost(model, result.lost);
        break;
      }
    }
    checkInvariants(ds, model);
  }
}

function expectAssignable(state: AddressState | undefined, now: number): void {
  expect(state).toBeDefined();
  if (state?.type === 'cooling') expect(state.until).toBeLessThanOrEqual(now);
  else expect(state?.type).toBe('available');
}

/** Sorted "key -> address/uid" lines: cheap to compare, readable in a failure. */
function holdings(entries: Iterable<[string, { address: string; podUid: string }]>): string[] {
  return [...entries].map(([key, h]) => `${key.replace('\u0000', '/')} -> ${h.address} ${h.podUid}`).sort();
}

function checkInvariants(ds: Datastore, model: Model): void {
  // Plain comparisons collected into one expect per invariant: deep equality in a loop dominated the run time.
  const records = ds.addressRecords();
  const addresses = new Set(records.map((r) => r.address));
  expect(addresses.size).toBe(records.length);

  const assignments = ds.assignments();
  expect(new Set(assignments.map((a) => a.address)).size).toBe(assignments.length);
  expect(new Set(assignments.map((a) => keyString(a.key))).size).toBe(assignments.length);
  expect(
    holdings(assignments.map((a) => [keyString(a.key), { address: a.address, podUid: a.pod.uid }])),
  ).toEqual(holdings(model));

  const byState = { available: 0, assigned: 0, cooling: 0 };
  const perEni = new Map<string, { total: number; assigned: number; cooling: number }>();
  for (const r of records) {
    byState[r.state.type]++;
    const counts = perEni.get(r.eniId) ?? { total: 0, assigned: 0, cooling: 0 };
    counts.total++;
    if (r.state.type !== 'available') counts[r.state.type]++;
    perEni.set(r.eniId, counts);
  }
  const totals = ds.totals();
  expect(totals).toEqual({
    total: addresses.size,
    assigned: byState.assigned,
    cooling: byState.cooling,
    free: byState.available,
  });

  const usage = ds.usage().map((u) => `${u.id} ${u.ips + 16 * u.prefixes}/${u.assigned}/${u.cooldown}`);
  const expectedUsage = ds.enis().map((e) => {
    const c = perEni.get(e.id) ?? { total: 0, assigned: 0, cooling: 0 };
    return `${e.id} ${c.total}/${c.assigned}/${c.cooling}`;
  });
  expect(usage).toEqual(expectedUsage);

  const accounting = accountAddresses(ds.enis(), records);
  expect(accounting.anomalies).toEqual([]);
  expect(accounting.node).toEqual(totals);
  expect(accounting.bySubnet.every((subnet) => subnet.total <= subnet.usable)).toBe(true);

  const sources = ds.enis().flatMap((e) => {
    const s = ds.sourcesOf(e.id);
    return s ? [...s.ips, ...s.prefixes] : [];
  });
  const comparison = compareAddressSources({ records: records.map((r) => r.address), sources });
  expect(comparison.agree).toBe(true);
  expect(comparison.distinct).toBe(totals.total);
}

describe('datastore properties', () => {
  it('random operation sequences keep every invariant', () => {
    fc.assert(
      fc.property(stocked, fc.array(step, { minLength: 1, maxLength: 50, size: 'max' }), (stock, steps) => {
        run(stock, steps);
      }),
      { numRuns: 80 },
    );
  });

  it('a burst on a fully stocked node hands out distinct addresses until none is left', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 60 }), (pods, ips) => {
        const ds = new Datastore();
        ds.addEni(eniInfo(0));
        ds.addIps(
          'eni-0',
          Array.from({ length: ips }, (_, i) => ipOf(0, 10 + i)),
        );
        const got = Array.from({ length: pods }, (_, n) =>
          ds.assign({ key: keyOf(n, 'eth0'), pod: podRef(n) }, 0),
        );
        const addresses = got.flatMap((r) => (r.type === 'assigned' ? [r.address] : []));
        expect(new Set(addresses).size).toBe(Math.min(pods, ips));
        expect(got.filter((r) => r.type === 'no-free-address')).toHaveLength(Math.max(0, pods - ips));
      }),
    );
  });
});
