import { SnapshotError } from '../../ipam/errors.js';
import { datastoreFromJson, datastoreToJson } from './support/datastore-helpers.js';
import { describe, expect, it } from 'vitest';
import { Datastore } from '../../ipam/datastore.js';
import {
  restoreDatastore,
  salvageDatastore,
  snapshotDatastore,
  SnapshotText,
  type DatastoreSnapshotV1,
} from '../../ipam/datastore-snapshot.js';

function populated(): Datastore {
  const ds = new Datastore();
  ds.addEni({ id: 'eni-0', subnetId: 'subnet-a', subnetCidr: '10.0.0.0/24', deviceIndex: 0, primary: true });
  ds.addEni({
    id: 'eni-1',
    subnetId: 'subnet-b',
    subnetCidr: '10.1.0.0/24',
    deviceIndex: 1,
    primary: false,
    pool: 'vms',
  });
  ds.addIps('eni-0', ['10.0.0.11', '10.0.0.10']);
  ds.addPrefixes('eni-1', ['10.1.0.32/28', '10.1.0.16/28']);
  ds.assign(
    { key: { containerId: 'c1', ifName: 'eth0' }, pod: { uid: 'u1', namespace: 'ns', name: 'p1' } },
    100,
  );
  ds.assign(
    {
      key: { containerId: 'c2', ifName: 'eth0' },
      pod: { uid: 'u2', namespace: 'ns', name: 'virt-launcher-vm' },
      owner: { kind: 'VirtualMachine', namespace: 'ns', name: 'vm', uid: 'vm-uid' },
      constraints: { pool: 'vms' },
    },
    200,
  );
  ds.assign(
    { key: { containerId: 'c3', ifName: 'eth0' }, pod: { uid: 'u3', namespace: 'ns', name: 'p3' } },
    300,
  );
  ds.release({ containerId: 'c3', ifName: 'eth0' }, 400, 30_000);
  return ds;
}

function validSnapshot(): DatastoreSnapshotV1 {
  return snapshotDatastore(populated());
}

describe('SnapshotText', () => {
  it('writes exactly the JSON of the snapshot after every kind of change, reusing nothing stale', () => {
    const ds = populated();
    const text = new SnapshotText();
    const same = (): void => {
      expect(text.of(ds)).toBe(JSON.stringify(snapshotDatastore(ds)));
    };
    same();
    // The address c1 held goes to another pod: its text must be the new holder's.
    ds.release({ containerId: 'c1', ifName: 'eth0' }, 500, 0);
    same();
    ds.assign(
      {
        key: { containerId: 'c4', ifName: 'net1' },
        pod: { uid: 'u4', namespace: 'other', name: 'p4' },
        network: 'multus-net',
      },
      600,
    );
    same();
    ds.transfer(
      { containerId: 'c2', ifName: 'eth0' },
      { containerId: 'c5', ifName: 'eth0' },
      { uid: 'u5', namespace: 'ns', name: 'virt-launcher-vm-2' },
      700,
    );
    same();
    ds.expireCooldowns(1_000_000);
    ds.addIps('eni-0', ['10.0.0.9', '10.0.0.100', '10.0.0.20']);
    ds.addPrefixes('eni-1', ['10.1.0.160/28']);
    same();
    expect(snapshotDatastore(restoreDatastore(JSON.parse(text.of(ds))))).toEqual(snapshotDatastore(ds));
  });

  it('lists addresses and prefixes in numeric order, not text order', () => {
    const ds = new Datastore();
    ds.addEni({ id: 'eni-0', subnetId: 's', subnetCidr: '10.0.0.0/16', deviceIndex: 0, primary: true });
    ds.addIps('eni-0', ['10.0.0.100', '10.0.0.9', '10.0.0.20']);
    ds.addPrefixes('eni-0', ['10.0.1.0/28', '10.0.0.160/28', '10.0.0.32/28']);
    const [eni] = (JSON.parse(new SnapshotText().of(ds)) as DatastoreSnapshotV1).enis;
    expect(eni?.ips).toEqual(['10.0.0.9', '10.0.0.20', '10.0.0.100']);
    expect(eni?.prefixes).toEqual(['10.0.0.32/28', '10.0.0.160/28', '10.0.1.0/28']);
  });
});

/** The chunks as one text; undefined stays undefined (only the whole text can say it). */
function textOf(chunks: Uint8Array[] | undefined): string | undefined {
  if (chunks === undefined) return undefined;
  return chunks.map((c) => new TextDecoder().decode(c)).join('');
}

describe('SnapshotText.changeChunks', () => {
  const C4 = { containerId: 'c4', ifName: 'eth0' };
  const P4 = { uid: 'u4', namespace: 'ns', name: 'p4' };

  /** The populated datastore just after its whole text was written. */
  function written(): { ds: Datastore; text: SnapshotText } {
    const ds = populated();
    const text = new SnapshotText();
    text.chunks(ds);
    return { ds, text };
  }

  it.each<[string, (ds: Datastore) => unknown, string | undefined]>([
    ['nothing changed', () => undefined, ''],
    [
      'an ADD',
      (ds) => ds.assign({ key: C4, pod: P4, constraints: { pool: 'vms' }, network: 'net-a' }, 500),
      '{"assigned":{"address":"10.1.0.17","containerId":"c4","ifName":"eth0",' +
        '"pod":{"uid":"u4","namespace":"ns","name":"p4"},"network":"net-a","assignedAt":500}}\n',
    ],
    [
      'a DEL with cooldown',
      (ds) => ds.release({ containerId: 'c1', ifName: 'eth0' }, 600, 30_000),
      '{"cooling":{"address":"10.0.0.10","until":30600}}\n',
    ],
    [
      'a DEL without cooldown',
      (ds) => ds.release({ containerId: 'c1', ifName: 'eth0' }, 600, 0),
      '{"available":"10.0.0.10"}\n',
    ],
    [
      'an ADD and its DEL between two writes',
      (ds) => {
        ds.assign({ key: C4, pod: P4, constraints: { pool: 'vms' } }, 500);
        ds.release(C4, 600, 0);
      },
      '{"available":"10.1.0.17"}\n',
    ],
    [
      'a transfer of a VM address to its next pod',
      (ds) => ds.transfer({ containerId: 'c2', ifName: 'eth0' }, C4, P4, 700),
      '{"assigned":{"address":"10.1.0.16","containerId":"c4","ifName":"eth0",' +
        '"pod":{"uid":"u4","namespace":"ns","name":"p4"},' +
        '"owner":{"kind":"VirtualMachine","namespace":"ns","name":"vm","uid":"vm-uid"},"assignedAt":700}}\n',
    ],
    [
      'a cooldown that ended, then its address taken again',
      (ds) => ds.assign({ key: C4, pod: P4 }, 40_000),
      '{"assigned":{"address":"10.0.0.11","containerId":"c4","ifName":"eth0",' +
        '"pod":{"uid":"u4","namespace":"ns","name":"p4"},"assignedAt":40000}}\n',
    ],
    ['an address added', (ds) => ds.addIps('eni-0', ['10.0.0.12']), undefined],
    ['a prefix removed', (ds) => ds.removePrefixes('eni-1', ['10.1.0.32/28']), undefined],
    [
      'an ENI added',
      (ds) =>
        ds.addEni({ id: 'eni-2', subnetId: 's', subnetCidr: '10.2.0.0/24', deviceIndex: 2, primary: false }),
      undefined,
    ],
  ])('%s', (_, operation, expected) => {
    const { ds, text } = written();
    operation(ds);
    expect(textOf(text.changeChunks(ds))).toBe(expected);
  });

  it('writes one record per changed address, each a line of its own', () => {
    const { ds, text } = written();
    ds.release({ containerId: 'c1', ifName: 'eth0' }, 600, 0);
    ds.assign({ key: C4, pod: P4, constraints: { pool: 'vms' } }, 700);
    ds.expireCooldowns(30_400);
    const lines = textOf(text.changeChunks(ds))?.split('\n');
    expect(lines?.pop()).toBe('');
    expect(lines?.sort()).toEqual([
      '{"assigned":{"address":"10.1.0.17","containerId":"c4","ifName":"eth0","pod":{"uid":"u4","namespace":"ns","name":"p4"},"assignedAt":700}}',
      '{"available":"10.0.0.10"}',
      '{"available":"10.0.0.11"}',
    ]);
  });

  it('is undefined until a whole text was written, and counts from each write', () => {
    const ds = populated();
    const text = new SnapshotText();
    expect(text.changeChunks(ds)).toBeUndefined();
    text.chunks(ds);
    ds.release({ containerId: 'c1', ifName: 'eth0' }, 600, 0);
    expect(textOf(text.changeChunks(ds))).toBe('{"available":"10.0.0.10"}\n');
    // Those changes are written: the next call has none.
    expect(textOf(text.changeChunks(ds))).toBe('');
    ds.addIps('eni-0', ['10.0.0.12']);
    expect(text.changeChunks(ds)).toBeUndefined();
    // A state change after the layout change still needs the whole text...
    ds.assign({ key: C4, pod: P4 }, 700);
    expect(text.changeChunks(ds)).toBeUndefined();
    // ...until it is written; of() writes it too.
    expect(text.of(ds)).toBe(JSON.stringify(snapshotDatastore(ds)));
    expect(textOf(text.changeChunks(ds))).toBe('');
  });

  it('appends to the chunks it is given', () => {
    const { ds, text } = written();
    const head = new TextEncoder().encode('head\n');
    ds.release({ containerId: 'c1', ifName: 'eth0' }, 600, 0);
    const into = [head];
    expect(text.changeChunks(ds, into)).toBe(into);
    expect(textOf(into)).toBe('head\n{"available":"10.0.0.10"}\n');
  });
});

describe('snapshot', () => {
  it('writes version 1 with ENIs, their sources, assignments and cooldowns', () => {
    expect(validSnapshot()).toEqual({
      version: 1,
      enis: [
        {
          id: 'eni-0',
          subnetId: 'subnet-a',
          subnetCidr: '10.0.0.0/24',
          deviceIndex: 0,
          primary: true,
          ips: ['10.0.0.10', '10.0.0.11'],
          prefixes: [],
        },
        {
          id: 'eni-1',
          subnetId: 'subnet-b',
          subnetCidr: '10.1.0.0/24',
          deviceIndex: 1,
          primary: false,
          pool: 'vms',
          ips: [],
          prefixes: ['10.1.0.16/28', '10.1.0.32/28'],
        },
      ],
      assigned: [
        {
          address: '10.0.0.10',
          containerId: 'c1',
          ifName: 'eth0',
          pod: { uid: 'u1', namespace: 'ns', name: 'p1' },
          assignedAt: 100,
        },
        {
          address: '10.1.0.16',
          containerId: 'c2',
          ifName: 'eth0',
          pod: { uid: 'u2', namespace: 'ns', name: 'virt-launcher-vm' },
          owner: { kind: 'VirtualMachine', namespace: 'ns', name: 'vm', uid: 'vm-uid' },
          assignedAt: 200,
        },
      ],
      cooling: [{ address: '10.0.0.11', until: 30_400 }],
    });
  });

  it('round-trips through JSON to an equal datastore', () => {
    const original = populated();
    const restored = datastoreFromJson(datastoreToJson(original));
    expect(snapshotDatastore(restored)).toEqual(snapshotDatastore(original));
    expect(restored.addressRecords()).toEqual(original.addressRecords());
    expect(restored.usage()).toEqual(original.usage());
    // restored assignments are live: a retried ADD gets the same address, cooldowns still hold
    expect(
      restored.assign(
        { key: { containerId: 'c1', ifName: 'eth0' }, pod: { uid: 'u1', namespace: 'ns', name: 'p1' } },
        500,
      ),
    ).toMatchObject({ address: '10.0.0.10', existing: true });
    expect(restored.nextCooldownExpiry()).toBe(30_400);
  });

  it('restores an empty datastore', () => {
    expect(restoreDatastore({ version: 1, enis: [], assigned: [], cooling: [] }).totals().total).toBe(0);
  });
});

describe('restore rejects', () => {
  function rejection(input: unknown): SnapshotError {
    try {
      restoreDatastore(input);
    } catch (error) {
      if (error instanceof SnapshotError) return error;
      throw error;
    }
    throw new Error('restore accepted it');
  }

  it.each([
    [
      { ...validSnapshot(), version: 2 },
      'ERR_SNAPSHOT_UNSUPPORTED_VERSION',
      /version 2 is newer than this eni-ipam reads version 1/,
    ],
    [
      { ...validSnapshot(), version: 0 },
      'ERR_SNAPSHOT_UNSUPPORTED_VERSION',
      /has version 0; this eni-ipam reads version 1/,
    ],
    [{ ...validSnapshot(), version: '1' }, 'ERR_SNAPSHOT_UNSUPPORTED_VERSION', /has version "1"/],
    [{ enis: [] }, 'ERR_SNAPSHOT_UNSUPPORTED_VERSION', /no "version" field/],
    [[], 'ERR_SNAPSHOT_MALFORMED', /not a JSON object/],
    [null, 'ERR_SNAPSHOT_MALFORMED', /not a JSON object/],
    [{ version: 1, enis: [] }, 'ERR_SNAPSHOT_MALFORMED', /assigned: /],
    [
      { version: 1, enis: [{ id: 'eni-0' }], assigned: [], cooling: [] },
      'ERR_SNAPSHOT_MALFORMED',
      /enis\.0\.subnetId/,
    ],
  ] as const)('%j: %s', (input, code, message) => {
    const error = rejection(input);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('broken JSON', () => {
    expect(() => datastoreFromJson('{"version": 1,')).toThrow(SnapshotError);
    expect(() => datastoreFromJson('{"version": 1,')).toThrow(/not JSON/);
  });

  it.each<[string, (s: DatastoreSnapshotV1) => void, RegExp]>([
    [
      'an address on two ENIs',
      (s) =>
        s.enis.push({
          id: 'eni-2',
          subnetId: 'subnet-a',
          subnetCidr: '10.0.0.0/24',
          deviceIndex: 2,
          primary: false,
          ips: ['10.0.0.10'],
          prefixes: [],
        }),
      /ENI eni-2: 10\.0\.0\.10 refused \(held-by-another-eni: on eni-0\)/,
    ],
    [
      'an address outside its subnet',
      (s) => s.enis[1]!.ips.push('10.0.0.10'),
      /10\.0\.0\.10 refused \(outside-subnet/,
    ],
    [
      'an address twice on the node',
      (s) => {
        s.enis[1] = {
          ...s.enis[1]!,
          subnetId: 'subnet-a',
          subnetCidr: '10.0.0.0/24',
          prefixes: ['10.0.0.16/28', '10.0.0.32/28'],
        };
        s.enis[0]!.ips.push('10.0.0.20');
        s.assigned = [];
        s.cooling = [];
      },
      /10\.0\.0\.16\/28 refused \(held-by-another-eni: 10\.0\.0\.20: on eni-0\)/,
    ],
    [
      'the same ENI twice',
      (s) => s.enis.push({ ...s.enis[0]!, deviceIndex: 7, ips: [] }),
      /ENI eni-0 appears twice/,
    ],
    [
      'two ENIs on one device index',
      (s) => (s.enis[1] = { ...s.enis[1]!, deviceIndex: 0 }),
      /share device index 0/,
    ],
    [
      'a malformed subnet CIDR',
      (s) => (s.enis[0] = { ...s.enis[0]!, subnetCidr: '10.0.0.5/24' }),
      /ENI eni-0: .*host bits/,
    ],
    [
      'an assignment of an address on no ENI',
      (s) => (s.assigned[0]!.address = '10.0.0.99'),
      /10\.0\.0\.99: address 10\.0\.0\.99 is on no ENI/,
    ],
    ['an address both assigned and cooling', (s) => (s.cooling[0]!.address = '10.0.0.10'), /appears twice/],
    [
      'one key on two addresses',
      (s) => {
        s.assigned[1] = { ...s.assigned[1]!, containerId: 'c1' };
      },
      /container c1 eth0 holds both/,
    ],
  ])('%s', (_, corrupt, message) => {
    const snapshot = structuredClone(validSnapshot());
    corrupt(snapshot);
    const error = rejection(snapshot);
    expect(error.code).toBe('ERR_SNAPSHOT_INCONSISTENT');
    expect(error.message).toMatch(message);
  });
});

describe('salvageDatastore with change records', () => {
  // The snapshot: c1 holds 10.0.0.10, c2 (a VM's pod) 10.1.0.16; 10.0.0.11 cools until 30400.
  const C1 = { containerId: 'c1', ifName: 'eth0' };
  const c5At11 = {
    assigned: {
      address: '10.0.0.11',
      containerId: 'c5',
      ifName: 'eth0',
      pod: { uid: 'u5', namespace: 'ns', name: 'p5' },
      assignedAt: 900,
    },
  };

  function states(ds: Datastore): Record<string, string> {
    const byAddress: Record<string, string> = {};
    for (const r of ds.addressRecords()) {
      if (r.state.type === 'assigned') byAddress[r.address] = `assigned ${r.state.key.containerId}`;
      else if (r.state.type === 'cooling') byAddress[r.address] = `cooling ${r.state.until}`;
    }
    return byAddress;
  }

  it('applies the records in order on top of the snapshot', () => {
    const { datastore, dropped } = salvageDatastore(validSnapshot(), [
      { available: '10.0.0.10' },
      c5At11,
      { cooling: { address: '10.1.0.16', until: 31_000 } },
      { cooling: { address: '10.0.0.10', until: 32_000 } },
      // The later record of an address is its state: assigned, then cooling.
      { available: '10.0.0.10' },
    ]);
    expect(dropped).toEqual([]);
    expect(states(datastore)).toEqual({ '10.0.0.11': 'assigned c5', '10.1.0.16': 'cooling 31000' });
    // The keys are live: c1's retried ADD is a new one, c5's gets its address back.
    expect(datastore.assignmentOf(C1)).toBeUndefined();
    expect(
      datastore.assign({ key: { containerId: 'c5', ifName: 'eth0' }, pod: c5At11.assigned.pod }, 1000),
    ).toMatchObject({ address: '10.0.0.11', existing: true });
  });

  it('no records: the snapshot as it is', () => {
    const { datastore, dropped } = salvageDatastore(validSnapshot(), []);
    expect(dropped).toEqual([]);
    expect(snapshotDatastore(datastore)).toEqual(validSnapshot());
  });

  it.each<[string, unknown, RegExp]>([
    [
      'an assignment without its pod',
      { assigned: { address: '10.0.0.10', containerId: 'c1', ifName: 'eth0', assignedAt: 5 } },
      /assigned\.pod/,
    ],
    [
      'an assignment at no time',
      { assigned: { ...c5At11.assigned, address: '10.0.0.10', assignedAt: 'soon' } },
      /assigned\.assignedAt/,
    ],
    [
      'a cooldown ending before time began',
      { cooling: { address: '10.0.0.10', until: -1 } },
      /cooling\.until/,
    ],
    ['an unknown field', { available: '10.0.0.10', since: 5 }, /Unrecognized key: "since"/],
    [
      'two states at once',
      { available: '10.0.0.10', cooling: { address: '10.0.0.10', until: 5 } },
      /Unrecognized key: "available"/,
    ],
  ])('an unreadable record naming an address the snapshot had assigned: %s', (_, record, reason) => {
    const { datastore, dropped } = salvageDatastore(validSnapshot(), [
      { available: '10.1.0.16' },
      record,
      c5At11,
    ]);
    expect(dropped).toEqual([
      { entry: 'changes[1]', address: '10.0.0.10', reason: expect.stringMatching(reason) as unknown },
    ]);
    // Its holder is unknown: nobody's, not even the snapshot's c1. The record after it applies.
    expect(states(datastore)).toEqual({ '10.0.0.11': 'assigned c5' });
    expect(datastore.assignmentOf(C1)).toBeUndefined();
    expect(datastore.stateOf('10.0.0.10')).toEqual({ type: 'available' });
  });

  it.each<[string, unknown, RegExp]>([
    ['a line that is not JSON', undefined, /^not JSON$/],
    ['null', null, /one state: "assigned", "cooling" or "available"/],
    ['a number', 42, /one state/],
    ['a string', '10.0.0.10', /one state/],
    ['an empty object', {}, /one state/],
    ['an empty address', { available: '' }, /^available: Too small/],
    ['an assignment that is not an object', { assigned: '10.0.0.10' }, /^assigned: .*expected object/],
  ])('an unreadable record naming no address costs only itself: %s', (_, record, reason) => {
    const { datastore, dropped } = salvageDatastore(validSnapshot(), [
      c5At11,
      record,
      { available: '10.1.0.16' },
    ]);
    expect(dropped).toEqual([
      { entry: 'changes[1]', address: undefined, reason: expect.stringMatching(reason) as unknown },
    ]);
    expect(states(datastore)).toEqual({ '10.0.0.10': 'assigned c1', '10.0.0.11': 'assigned c5' });
  });

  it('a readable record after an unreadable one of the same address says its state again', () => {
    const { datastore, dropped } = salvageDatastore(validSnapshot(), [
      { cooling: { address: '10.0.0.10' } },
      { cooling: { address: '10.0.0.10', until: 33_000 } },
    ]);
    expect(dropped.map((d) => [d.entry, d.address])).toEqual([['changes[0]', '10.0.0.10']]);
    expect(states(datastore)).toMatchObject({ '10.0.0.10': 'cooling 33000' });
  });

  it('names each dropped entry where it was read, a snapshot entry or a record', () => {
    const snapshot = structuredClone(validSnapshot()) as unknown as Record<string, unknown[]>;
    // assigned[0] cannot be read; cooling[0] can, but its address is on no ENI.
    snapshot['assigned'] = [{ address: '10.0.0.10' }, validSnapshot().assigned[1]];
    snapshot['cooling'] = [{ address: '10.0.0.98', until: 5 }];
    const onNoEni = { assigned: { ...c5At11.assigned, address: '10.0.0.99' } };
    const { datastore, dropped } = salvageDatastore(snapshot, [onNoEni, { available: '10.1.0.17' }, c5At11]);
    expect(dropped.map((d) => [d.entry, d.address])).toEqual([
      ['assigned[0]', '10.0.0.10'],
      ['changes[0]', '10.0.0.99'],
      ['cooling[0]', '10.0.0.98'],
    ]);
    expect(dropped[1]?.reason).toMatch(/10\.0\.0\.99 is on no ENI/);
    expect(states(datastore)).toEqual({ '10.0.0.11': 'assigned c5', '10.1.0.16': 'assigned c2' });
  });

  it('names an entry by its place in the snapshot even after an earlier one was left out', () => {
    const snapshot = structuredClone(validSnapshot()) as unknown as Record<string, unknown[]>;
    snapshot['cooling'] = [{ address: '10.0.0.12' }, { address: '10.0.0.99', until: 5 }];
    const { dropped } = salvageDatastore(snapshot);
    expect(dropped.map((d) => [d.entry, d.address])).toEqual([
      ['cooling[0]', '10.0.0.12'],
      ['cooling[1]', '10.0.0.99'],
    ]);
  });
});
