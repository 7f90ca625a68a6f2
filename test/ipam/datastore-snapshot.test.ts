import { SnapshotError } from '../../ipam/errors.js';
import { datastoreFromJson, datastoreToJson } from './support/datastore-helpers.js';
import { describe, expect, it } from 'vitest';
import { Datastore } from '../../ipam/datastore.js';
import {
  restoreDatastore,
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
