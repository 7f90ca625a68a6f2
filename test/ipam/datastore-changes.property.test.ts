import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Datastore } from '../../ipam/datastore.js';
import { salvageDatastore, snapshotDatastore, SnapshotText } from '../../ipam/datastore-snapshot.js';
import type { AssignConstraints, AssignmentKey, EniInfo } from '../../ipam/datastore-types.js';

/**
 * The checkpoint writes the whole snapshot only when the change records cannot say what changed,
 * and appends the records otherwise. For random operation sequences, with writes (and restarts
 * from what was written) at random points: the last whole text with the records after it restores
 * the datastore as it was at the write, and drops nothing.
 */

const ENIS: readonly EniInfo[] = [
  { id: 'eni-0', subnetId: 'subnet-a', subnetCidr: '10.0.0.0/24', deviceIndex: 0, primary: true },
  { id: 'eni-1', subnetId: 'subnet-a', subnetCidr: '10.0.0.0/24', deviceIndex: 1, primary: false },
  {
    id: 'eni-2',
    subnetId: 'subnet-b',
    subnetCidr: '10.1.0.0/24',
    deviceIndex: 2,
    primary: false,
    pool: 'vms',
  },
];

/** The /28 `block` of an ENI's subnet: eni-0 holds blocks 1-3, eni-1 blocks 4-6, eni-2 blocks 1-3. */
function prefixOf(eni: number, block: number): string {
  const base = eni === 2 ? '10.1.0.' : '10.0.0.';
  return `${base}${(eni === 1 ? block + 3 : block) * 16}/28`;
}

function ipOf(eni: number, n: number): string {
  const base = eni === 2 ? '10.1.0.' : '10.0.0.';
  return `${base}${200 + eni * 10 + n}`;
}

const CONSTRAINTS: AssignConstraints[] = [{}, { pool: 'vms' }, { excludePrimaryEni: true }];

const eni = fc.integer({ min: 0, max: 2 });
const block = fc.integer({ min: 1, max: 3 });
const podN = fc.integer({ min: 0, max: 9 });
const ifName = fc.constantFrom('eth0', 'net1');

const operation = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('assign' as const),
      pod: podN,
      ifName,
      constraints: fc.integer({ min: 0, max: CONSTRAINTS.length - 1 }),
      network: fc.constantFrom(undefined, 'net-a'),
    }),
    weight: 10,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('release' as const),
      pod: podN,
      ifName,
      cooldown: fc.constantFrom(0, 0, 500, 3000),
    }),
    weight: 7,
  },
  {
    arbitrary: fc.record({ op: fc.constant('transfer' as const), from: podN, to: podN, ifName }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant('expire' as const) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('addPrefixes' as const), eni, block }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('removePrefixes' as const), eni, block }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant('addIps' as const), eni, n: fc.integer({ min: 0, max: 3 }) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant('removeIps' as const), eni, n: fc.integer({ min: 0, max: 3 }) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant('removeEni' as const), eni, evenIfInUse: fc.boolean() }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant('addEni' as const), eni }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('write' as const) }), weight: 8 },
  // The checkpoint may write the whole state even when records would do (a compaction).
  { arbitrary: fc.record({ op: fc.constant('writeWhole' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('restart' as const) }), weight: 1 },
);

const step = fc.record({ dt: fc.integer({ min: 0, max: 1500 }), operation });

type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

function keyOf(pod: number, ifName: string): AssignmentKey {
  return { containerId: `c${pod}`, ifName };
}

function podRef(pod: number) {
  return { uid: `uid-${pod}`, namespace: 'ns', name: `pod-${pod}` };
}

function decode(chunks: readonly Uint8Array[]): string {
  return chunks.map((c) => new TextDecoder().decode(c)).join('');
}

/** What the checkpoint holds: the last whole text and the record lines appended after it. */
class Written {
  private text = new SnapshotText();
  private whole = '';
  private records: unknown[] = [];
  /** How each write went, so that a run can be seen to have used both kinds. */
  readonly counts = { whole: 0, records: 0 };

  constructor(ds: Datastore) {
    this.writeWhole(ds);
  }

  write(ds: Datastore): void {
    const chunks = this.text.changeChunks(ds);
    if (chunks === undefined) {
      this.writeWhole(ds);
      return;
    }
    const text = decode(chunks);
    // Whole lines only, one JSON object each: the checkpoint appends them as they come.
    expect(text === '' || text.endsWith('\n')).toBe(true);
    const lines = text.split('\n').slice(0, -1);
    this.records.push(...lines.map((line) => JSON.parse(line) as unknown));
    this.counts.records++;
  }

  writeWhole(ds: Datastore): void {
    this.whole = this.text.of(ds);
    this.records = [];
    this.counts.whole++;
  }

  /** The datastore as a restart would rebuild it from what was written. */
  restore(): Datastore {
    const { datastore, dropped } = salvageDatastore(JSON.parse(this.whole), this.records);
    expect(dropped).toEqual([]);
    return datastore;
  }

  /** Starts over from `ds`, as a restarted agent does: a new text, a first write whole. */
  restart(ds: Datastore): void {
    this.text = new SnapshotText();
    expect(this.text.changeChunks(ds)).toBeUndefined();
    this.writeWhole(ds);
  }
}

function expectSame(restored: Datastore, ds: Datastore): void {
  const got = snapshotDatastore(restored);
  const want = snapshotDatastore(ds);
  const byAddress = <T extends { address: string }>(list: readonly T[]): T[] =>
    [...list].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  expect(got.enis).toEqual(want.enis);
  expect(byAddress(got.assigned)).toEqual(byAddress(want.assigned));
  expect(byAddress(got.cooling)).toEqual(byAddress(want.cooling));
}

function stocked(): Datastore {
  const ds = new Datastore();
  for (const [i, info] of ENIS.entries()) {
    ds.addEni(info);
    ds.addPrefixes(info.id, [prefixOf(i, 1)]);
    ds.addIps(info.id, [ipOf(i, 0), ipOf(i, 1)]);
  }
  return ds;
}

function run(steps: readonly Step[]): Written {
  let ds = stocked();
  const written = new Written(ds);
  let now = 0;
  for (const { dt, operation: o } of steps) {
    now += dt;
    switch (o.op) {
      case 'assign': {
        const constraints = CONSTRAINTS[o.constraints]!;
        const owner =
          o.pod % 3 === 0
            ? { kind: 'VirtualMachine', namespace: 'ns', name: `vm-${o.pod}`, uid: `vm-${o.pod}` }
            : undefined;
        ds.assign(
          {
            key: keyOf(o.pod, o.ifName),
            pod: podRef(o.pod),
            constraints,
            ...(owner ? { owner } : {}),
            ...(o.network === undefined ? {} : { network: o.network }),
          },
          now,
        );
        break;
      }
      case 'release':
        ds.release(keyOf(o.pod, o.ifName), now, o.cooldown);
        break;
      case 'transfer':
        ds.transfer(keyOf(o.from, o.ifName), keyOf(o.to, o.ifName), podRef(o.to), now);
        break;
      case 'expire':
        ds.expireCooldowns(now);
        break;
      case 'addPrefixes':
        ds.addPrefixes(`eni-${o.eni}`, [prefixOf(o.eni, o.block)]);
        break;
      case 'removePrefixes':
        ds.removePrefixes(`eni-${o.eni}`, [prefixOf(o.eni, o.block)]);
        break;
      case 'addIps':
        ds.addIps(`eni-${o.eni}`, [ipOf(o.eni, o.n)]);
        break;
      case 'removeIps':
        ds.removeIps(`eni-${o.eni}`, [ipOf(o.eni, o.n)]);
        break;
      case 'removeEni':
        ds.removeEni(`eni-${o.eni}`, { evenIfInUse: o.evenIfInUse });
        break;
      case 'addEni':
        ds.addEni(ENIS[o.eni]!);
        break;
      case 'write':
        written.write(ds);
        expectSame(written.restore(), ds);
        break;
      case 'writeWhole':
        written.writeWhole(ds);
        break;
      case 'restart':
        written.write(ds);
        ds = written.restore();
        written.restart(ds);
        break;
    }
  }
  written.write(ds);
  expectSame(written.restore(), ds);
  return written;
}

describe('checkpoint change records', () => {
  it('the last whole text and the records after it restore the datastore as written', () => {
    const totals = { whole: 0, records: 0 };
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80, size: 'max' }), (steps) => {
        const { counts } = run(steps);
        totals.whole += counts.whole;
        totals.records += counts.records;
      }),
      { numRuns: 150 },
    );
    // Both kinds of write were exercised, records far more often (layout changes are rare).
    expect(totals.records).toBeGreaterThan(totals.whole);
  });

  it('a burst of ADDs and DELs between writes, on a node that never changes its addresses', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            pod: podN,
            add: fc.boolean(),
            cooldown: fc.constantFrom(0, 1000),
            write: fc.boolean(),
          }),
          { minLength: 1, maxLength: 120 },
        ),
        (events) => {
          const ds = stocked();
          const written = new Written(ds);
          events.forEach(({ pod, add, cooldown, write }, now) => {
            if (add) ds.assign({ key: keyOf(pod, 'eth0'), pod: podRef(pod) }, now * 100);
            else ds.release(keyOf(pod, 'eth0'), now * 100, cooldown);
            if (write) written.write(ds);
          });
          written.write(ds);
          expectSame(written.restore(), ds);
          // Only the first write was whole: every later one appended records.
          expect(written.counts.whole).toBe(1);
        },
      ),
      { numRuns: 100 },
    );
  });
});
