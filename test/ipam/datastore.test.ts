import { describe, expect, it } from 'vitest';
import { Datastore } from '../../ipam/datastore.js';
import { releaseOwner, releasePod } from './support/datastore-helpers.js';
import type { AssignRequest, EniInfo, OwnerRef } from '../../ipam/datastore-types.js';

const SUBNET_A = { subnetId: 'subnet-a', subnetCidr: '10.0.0.0/24' } as const;
const SUBNET_B = { subnetId: 'subnet-b', subnetCidr: '10.1.0.0/24' } as const;
const PRIMARY: EniInfo = { id: 'eni-0', ...SUBNET_A, deviceIndex: 0, primary: true };
const SECOND: EniInfo = { id: 'eni-1', ...SUBNET_A, deviceIndex: 1, primary: false };
const OTHER_SUBNET: EniInfo = { id: 'eni-2', ...SUBNET_B, deviceIndex: 2, primary: false };
const POOLED: EniInfo = { id: 'eni-3', ...SUBNET_B, deviceIndex: 3, primary: false, pool: 'vms' };

const VM: OwnerRef = { kind: 'VirtualMachine', namespace: 'ns', name: 'vm-1', uid: 'vm-uid' };

function pod(n: number, extra: Partial<AssignRequest> = {}): AssignRequest {
  return {
    key: { containerId: `c${n}`, ifName: 'eth0' },
    pod: { uid: `uid-${n}`, namespace: 'ns', name: `pod-${n}` },
    ...extra,
  };
}

function store(...enis: EniInfo[]): Datastore {
  const ds = new Datastore();
  for (const eni of enis) expect(ds.addEni(eni)).toEqual({ type: 'added' });
  return ds;
}

function assignedAddress(ds: Datastore, request: AssignRequest, now = 0): string {
  const result = ds.assign(request, now);
  if (result.type !== 'assigned') throw new Error(`expected an address, got ${JSON.stringify(result)}`);
  return result.address;
}

describe('ENIs', () => {
  it('adds an ENI once; a second add says whether it matches', () => {
    const ds = store(PRIMARY);
    expect(ds.addEni(PRIMARY)).toEqual({ type: 'exists', same: true });
    expect(ds.addEni({ ...PRIMARY, subnetCidr: '10.0.0.0/24' })).toEqual({ type: 'exists', same: true });
    expect(ds.addEni({ ...PRIMARY, deviceIndex: 5 })).toEqual({ type: 'exists', same: false });
    expect(ds.enis()).toEqual([PRIMARY]);
    expect(ds.eni('eni-0')).toEqual(PRIMARY);
    expect(ds.eni('eni-x')).toBeUndefined();
  });

  it('refuses a malformed subnet CIDR', () => {
    expect(() => new Datastore().addEni({ ...PRIMARY, subnetCidr: '10.0.0.1/24' })).toThrow(/host bits/);
  });

  it('lists ENIs by device index', () => {
    const ds = store(OTHER_SUBNET, PRIMARY, SECOND);
    expect(ds.enis().map((e) => e.id)).toEqual(['eni-0', 'eni-1', 'eni-2']);
  });

  it('removes an ENI with only free addresses', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10']);
    expect(ds.removeEni('eni-0')).toEqual({ type: 'removed', lost: [] });
    expect(ds.totals().total).toBe(0);
    expect(ds.removeEni('eni-0')).toEqual({ type: 'not-found' });
  });

  it('refuses to remove an ENI whose addresses are in use, unless told EC2 lost it', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11', '10.0.0.12']);
    const address = assignedAddress(ds, pod(1));
    ds.assign(pod(2), 0);
    ds.release(pod(2).key, 0, 30_000);
    expect(ds.removeEni('eni-0')).toEqual({ type: 'in-use', assigned: 1, cooling: 1 });
    const removed = ds.removeEni('eni-0', { evenIfInUse: true });
    expect(removed.type).toBe('removed');
    expect(removed.type === 'removed' && removed.lost.map((a) => [a.address, a.pod.uid])).toEqual([
      [address, 'uid-1'],
    ]);
    expect(ds.assignmentOf(pod(1).key)).toBeUndefined();
    expect(ds.totals()).toEqual({ total: 0, assigned: 0, cooling: 0, free: 0 });
  });
});

describe('adding addresses', () => {
  it.each([
    ['not an address', 'invalid'],
    ['10.1.0.10', 'outside-subnet'],
    ['10.0.0.1', 'reserved-by-aws'],
    ['10.0.0.3', 'reserved-by-aws'],
    ['10.0.0.255', 'reserved-by-aws'],
    ['10.0.0.20', 'already-present'],
    ['10.0.0.21', 'held-by-another-eni'],
    ['10.0.0.40', 'already-present'],
  ])('refuses IP %s: %s', (ip, reason) => {
    const ds = store(PRIMARY, SECOND);
    ds.addIps('eni-0', ['10.0.0.20']);
    ds.addIps('eni-1', ['10.0.0.21']);
    ds.addPrefixes('eni-0', ['10.0.0.32/28']);
    const result = ds.addIps('eni-0', [ip]);
    expect(result.added).toEqual([]);
    expect(result.refused).toEqual([expect.objectContaining({ entry: ip, reason })]);
  });

  it('adds IPs in canonical form and reports each refusal', () => {
    const ds = store(PRIMARY);
    const result = ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11', '10.0.0.10']);
    expect(result).toEqual({
      type: 'added',
      added: ['10.0.0.10', '10.0.0.11'],
      refused: [{ entry: '10.0.0.10', reason: 'already-present', detail: 'already a secondary IP' }],
    });
  });

  it.each([
    ['10.0.0.0/28', 'reserved-by-aws'],
    ['10.0.0.240/28', 'reserved-by-aws'],
    ['10.1.0.16/28', 'outside-subnet'],
    ['10.0.0.17/28', 'invalid'],
    ['10.0.0.0/27', 'invalid'],
    ['10.0.0.16/28', 'already-present'],
    ['10.0.0.48/28', 'held-by-another-eni'],
    ['10.0.0.64/28', 'held-by-another-eni'],
  ])('refuses prefix %s: %s', (prefix, reason) => {
    const ds = store(PRIMARY, SECOND);
    ds.addPrefixes('eni-0', ['10.0.0.16/28']);
    ds.addPrefixes('eni-1', ['10.0.0.48/28']);
    ds.addIps('eni-1', ['10.0.0.70']);
    const result = ds.addPrefixes('eni-0', [prefix]);
    expect(result.added).toEqual([]);
    expect(result.refused).toEqual([expect.objectContaining({ entry: prefix, reason })]);
  });

  it('a prefix brings its 16 addresses', () => {
    const ds = store(PRIMARY);
    expect(ds.addPrefixes('eni-0', ['10.0.0.16/28']).added).toEqual(['10.0.0.16/28']);
    expect(ds.totals()).toEqual({ total: 16, assigned: 0, cooling: 0, free: 16 });
    expect(ds.usage()).toEqual([
      { id: 'eni-0', primary: true, ips: 0, prefixes: 1, assigned: 0, cooldown: 0 },
    ]);
    expect(ds.addressRecords()[0]).toEqual({
      address: '10.0.0.16',
      eniId: 'eni-0',
      subnetId: 'subnet-a',
      pool: undefined,
      prefix: '10.0.0.16/28',
      state: { type: 'available' },
    });
  });

  it('reports an unknown ENI for every operation that names one', () => {
    const ds = new Datastore();
    expect(ds.addIps('eni-x', ['10.0.0.10']).type).toBe('unknown-eni');
    expect(ds.addPrefixes('eni-x', ['10.0.0.16/28']).type).toBe('unknown-eni');
    expect(ds.removeIps('eni-x', ['10.0.0.10']).type).toBe('unknown-eni');
    expect(ds.removePrefixes('eni-x', ['10.0.0.16/28']).type).toBe('unknown-eni');
    expect(ds.reconcileEni('eni-x', { ips: [], prefixes: [] }).type).toBe('unknown-eni');
    expect(ds.releasableIps('eni-x')).toEqual([]);
    expect(ds.releasablePrefixes('eni-x')).toEqual([]);
    expect(ds.sourcesOf('eni-x')).toBeUndefined();
  });
});

describe('removing addresses', () => {
  it('removes free IPs and refuses assigned, cooling and foreign ones', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11', '10.0.0.12']);
    ds.addPrefixes('eni-0', ['10.0.0.16/28']);
    ds.assign(pod(1), 0); // 10.0.0.10
    ds.assign(pod(2), 0); // 10.0.0.11
    ds.release(pod(2).key, 0, 1000);
    const result = ds.removeIps('eni-0', ['10.0.0.10', '10.0.0.11', '10.0.0.12', '10.0.0.16', 'x']);
    expect(result).toEqual({
      type: 'removed',
      removed: ['10.0.0.12'],
      refused: [
        { entry: '10.0.0.10', reason: 'assigned' },
        { entry: '10.0.0.11', reason: 'cooling' },
        { entry: '10.0.0.16', reason: 'not-on-eni' },
        { entry: 'x', reason: 'not-on-eni' },
      ],
    });
    expect(ds.totals().total).toBe(18);
  });

  it('removes a prefix only when none of its 16 addresses is in use', () => {
    const ds = store(PRIMARY);
    ds.addPrefixes('eni-0', ['10.0.0.16/28', '10.0.0.32/28', '10.0.0.48/28']);
    ds.restoreAddressState('10.0.0.20', { type: 'cooling', until: 50 });
    ds.restoreAddressState('10.0.0.40', {
      type: 'assigned',
      key: { containerId: 'c', ifName: 'eth0' },
      pod: { uid: 'u', namespace: 'ns', name: 'p' },
      assignedAt: 0,
    });
    expect(ds.releasablePrefixes('eni-0')).toEqual(['10.0.0.48/28']);
    const result = ds.removePrefixes('eni-0', [
      '10.0.0.16/28',
      '10.0.0.32/28',
      '10.0.0.48/28',
      '10.0.0.64/28',
      'bad',
    ]);
    expect(result).toEqual({
      type: 'removed',
      removed: ['10.0.0.48/28'],
      refused: [
        { entry: '10.0.0.16/28', reason: 'cooling' },
        { entry: '10.0.0.32/28', reason: 'assigned' },
        { entry: '10.0.0.64/28', reason: 'not-on-eni' },
        { entry: 'bad', reason: 'not-on-eni' },
      ],
    });
    expect(ds.totals().total).toBe(32);
  });

  it('lists releasable IPs highest first, without cooling or assigned ones', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11', '10.0.0.12', '10.0.0.13']);
    ds.assign(pod(1), 0);
    ds.assign(pod(2), 0);
    ds.release(pod(2).key, 0, 1000);
    expect(ds.releasableIps('eni-0')).toEqual(['10.0.0.13', '10.0.0.12']);
  });
});

describe('reconcileEni', () => {
  it('adds what EC2 has, removes what it lost, and reports lost assignments', () => {
    const ds = store(PRIMARY, SECOND);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11', '10.0.0.12']);
    ds.addPrefixes('eni-0', ['10.0.0.16/28', '10.0.0.32/28']);
    ds.addIps('eni-1', ['10.0.0.99']);
    const held = assignedAddress(ds, pod(1)); // 10.0.0.10
    ds.restoreAddressState('10.0.0.33', {
      type: 'assigned',
      key: { containerId: 'c2', ifName: 'eth0' },
      pod: { uid: 'uid-2', namespace: 'ns', name: 'pod-2' },
      assignedAt: 0,
    });
    ds.restoreAddressState('10.0.0.11', { type: 'cooling', until: 99 });

    const result = ds.reconcileEni('eni-0', {
      ips: ['10.0.0.12', '10.0.0.13', '10.0.0.99', 'junk'],
      prefixes: ['10.0.0.16/28', '10.0.0.64/28', 'junk/28'],
    });
    expect(result.type).toBe('reconciled');
    expect(result.added).toEqual(['10.0.0.13', '10.0.0.64/28']);
    expect(result.removed).toEqual(['10.0.0.10', '10.0.0.11', '10.0.0.32/28']);
    expect(result.lostWhileAssigned.map((a) => [a.address, a.pod.uid])).toEqual([
      [held, 'uid-1'],
      ['10.0.0.33', 'uid-2'],
    ]);
    expect(result.refused.map((r) => [r.entry, r.reason])).toEqual([
      ['junk', 'invalid'],
      ['junk/28', 'invalid'],
      ['10.0.0.99', 'held-by-another-eni'],
    ]);
    expect(ds.sourcesOf('eni-0')).toEqual({
      ips: ['10.0.0.12', '10.0.0.13'],
      prefixes: ['10.0.0.16/28', '10.0.0.64/28'],
    });
    expect(ds.assignments()).toEqual([]);
    expect(ds.release(pod(1).key, 0, 0)).toEqual({ type: 'not-found' });
  });

  it('is a no-op when EC2 agrees', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10']);
    ds.addPrefixes('eni-0', ['10.0.0.16/28']);
    ds.assign(pod(1), 0);
    expect(ds.reconcileEni('eni-0', { ips: ['10.0.0.10'], prefixes: ['10.0.0.16/28'] })).toEqual({
      type: 'reconciled',
      added: [],
      removed: [],
      lostWhileAssigned: [],
      refused: [],
    });
    expect(ds.assignmentOf(pod(1).key)?.address).toBe('10.0.0.10');
  });
});

describe('assign', () => {
  it('returns what the CNI result needs', () => {
    const ds = store({ ...PRIMARY, subnetCidr: '10.0.0.0/19' });
    ds.addIps('eni-0', ['10.0.0.10']);
    expect(ds.assign(pod(1), 5)).toEqual({
      type: 'assigned',
      address: '10.0.0.10',
      eniId: 'eni-0',
      subnetId: 'subnet-a',
      subnetCidr: '10.0.0.0/19',
      prefixLength: 19,
      gateway: '10.0.0.1',
      existing: false,
    });
    expect(ds.assignmentOf(pod(1).key)).toEqual({
      key: pod(1).key,
      pod: pod(1).pod,
      assignedAt: 5,
      address: '10.0.0.10',
      eniId: 'eni-0',
      subnetId: 'subnet-a',
    });
  });

  it('is idempotent for the same container id and interface', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11']);
    const first = ds.assign(pod(1), 0);
    const again = ds.assign(pod(1), 10);
    expect(again).toEqual({ ...first, existing: true });
    expect(ds.totals().assigned).toBe(1);
    // a second interface of the same pod is a different key
    const net1 = ds.assign({ ...pod(1), key: { containerId: 'c1', ifName: 'net1' } }, 0);
    expect(net1.type === 'assigned' && net1.address).toBe('10.0.0.11');
  });

  it('refuses a key that already holds an address for another pod', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11']);
    ds.assign(pod(1), 0);
    expect(ds.assign({ ...pod(2), key: pod(1).key }, 0)).toEqual({
      type: 'key-conflict',
      address: '10.0.0.10',
      heldBy: pod(1).pod,
    });
  });

  it('says why there is no address, with counts', () => {
    const ds = store(PRIMARY, OTHER_SUBNET);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11']);
    ds.addIps('eni-2', ['10.1.0.10']);
    ds.assign(pod(1), 0);
    ds.assign(pod(2), 0);
    ds.release(pod(2).key, 0, 30_000);
    expect(ds.assign(pod(3, { constraints: { subnetId: 'subnet-a' } }), 1000)).toEqual({
      type: 'no-free-address',
      total: 2,
      assigned: 1,
      cooling: 1,
      eligibleEnis: 1,
    });
    expect(ds.assign(pod(3, { constraints: { subnetId: 'subnet-z' } }), 0)).toMatchObject({
      type: 'no-free-address',
      eligibleEnis: 0,
    });
  });

  it('a cooling address is not assignable until its cooldown ends, then it is', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10']);
    ds.assign(pod(1), 0);
    expect(ds.release(pod(1).key, 100, 30_000)).toMatchObject({ type: 'released', availableAt: 30_100 });
    expect(ds.totals()).toEqual({ total: 1, assigned: 0, cooling: 1, free: 0 });
    expect(ds.assign(pod(2), 30_099).type).toBe('no-free-address');
    expect(assignedAddress(ds, pod(2), 30_100)).toBe('10.0.0.10');
  });

  it.each([
    ['no constraints: unpooled ENIs in any subnet', {}, ['eni-0', 'eni-1', 'eni-2']],
    ['subnet pin', { subnetId: 'subnet-b' }, ['eni-2']],
    ['pool', { pool: 'vms' }, ['eni-3']],
    ['pool in another subnet', { pool: 'vms', subnetId: 'subnet-a' }, []],
    ['custom networking', { excludePrimaryEni: true }, ['eni-1', 'eni-2']],
  ] as const)('constraints: %s', (_, constraints, expected) => {
    const ds = store(PRIMARY, SECOND, OTHER_SUBNET, POOLED);
    ds.addIps('eni-0', ['10.0.0.10']);
    ds.addIps('eni-1', ['10.0.0.20']);
    ds.addIps('eni-2', ['10.1.0.10']);
    ds.addIps('eni-3', ['10.1.0.20']);
    const got = new Set<string>();
    for (let n = 0; n < 5; n++) {
      const result = ds.assign(pod(n, { constraints }), 0);
      if (result.type === 'assigned') got.add(result.eniId);
    }
    expect([...got].sort()).toEqual(expected);
  });

  it('fills the ENI with the most assigned addresses, then the lowest device index', () => {
    const ds = store(PRIMARY, SECOND);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11']);
    ds.addIps('eni-1', ['10.0.0.20', '10.0.0.21', '10.0.0.22']);
    // tie at 0 assigned: lowest device index
    expect(ds.assign(pod(1), 0)).toMatchObject({ eniId: 'eni-0', address: '10.0.0.10' });
    ds.restoreAddressState('10.0.0.20', {
      type: 'assigned',
      key: { containerId: 'x', ifName: 'eth0' },
      pod: { uid: 'x', namespace: 'ns', name: 'x' },
      assignedAt: 0,
    });
    ds.restoreAddressState('10.0.0.21', {
      type: 'assigned',
      key: { containerId: 'y', ifName: 'eth0' },
      pod: { uid: 'y', namespace: 'ns', name: 'y' },
      assignedAt: 0,
    });
    // eni-1 now has 2 assigned against eni-0's 1
    expect(ds.assign(pod(2), 0)).toMatchObject({ eniId: 'eni-1', address: '10.0.0.22' });
    // eni-1 full: fall back to eni-0
    expect(ds.assign(pod(3), 0)).toMatchObject({ eniId: 'eni-0', address: '10.0.0.11' });
  });

  it('within an ENI, fills the /28 most in use so whole prefixes can drain', () => {
    const ds = store(PRIMARY);
    ds.addPrefixes('eni-0', ['10.0.0.16/28', '10.0.0.32/28']);
    ds.restoreAddressState('10.0.0.40', { type: 'cooling', until: 1000 });
    expect(assignedAddress(ds, pod(1))).toBe('10.0.0.32');
    expect(assignedAddress(ds, pod(2))).toBe('10.0.0.33');
  });

  it('ENI ties on device index are broken by id', () => {
    const ds = store({ ...SECOND, id: 'eni-b' }, { ...SECOND, id: 'eni-a' });
    ds.addIps('eni-b', ['10.0.0.10']);
    ds.addIps('eni-a', ['10.0.0.20']);
    expect(ds.assign(pod(1), 0)).toMatchObject({ eniId: 'eni-a' });
  });
});

describe('release', () => {
  it('is idempotent: a second release is not-found', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10']);
    ds.assign(pod(1, { owner: VM }), 7);
    const released = ds.release(pod(1).key, 10, 0);
    expect(released).toEqual({
      type: 'released',
      availableAt: 10,
      assignment: {
        key: pod(1).key,
        pod: pod(1).pod,
        owner: VM,
        assignedAt: 7,
        address: '10.0.0.10',
        eniId: 'eni-0',
        subnetId: 'subnet-a',
      },
    });
    expect(ds.totals().free).toBe(1);
    expect(ds.release(pod(1).key, 10, 0)).toEqual({ type: 'not-found' });
    expect(ds.release({ containerId: 'never', ifName: 'eth0' }, 10, 0)).toEqual({ type: 'not-found' });
  });

  it('releases by pod uid (every interface) and by owner uid', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11', '10.0.0.12', '10.0.0.13']);
    ds.assign(pod(1), 0);
    ds.assign({ ...pod(1), key: { containerId: 'c1', ifName: 'net1' } }, 0);
    ds.assign(pod(2, { owner: VM }), 0);
    ds.assign(pod(3), 0);
    expect(releasePod(ds, 'uid-1', 5, 1000).map((a) => a.key.ifName)).toEqual(['eth0', 'net1']);
    expect(releaseOwner(ds, 'vm-uid', 5, 1000).map((a) => a.pod.uid)).toEqual(['uid-2']);
    expect(releasePod(ds, 'uid-1', 5, 1000)).toEqual([]);
    expect(ds.assignments().map((a) => a.pod.uid)).toEqual(['uid-3']);
    expect(ds.totals()).toEqual({ total: 4, assigned: 1, cooling: 3, free: 0 });
  });
});

describe('cooldowns', () => {
  it('expire at their time and tell when the next one ends', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11', '10.0.0.12']);
    for (const n of [1, 2, 3]) ds.assign(pod(n), 0);
    expect(ds.nextCooldownExpiry()).toBeUndefined();
    ds.release(pod(1).key, 0, 300);
    ds.release(pod(2).key, 0, 100);
    ds.release(pod(3).key, 0, 200);
    expect(ds.nextCooldownExpiry()).toBe(100);
    expect(ds.usage()).toEqual([
      { id: 'eni-0', primary: true, ips: 3, prefixes: 0, assigned: 0, cooldown: 3 },
    ]);
    expect(ds.expireCooldowns(99)).toEqual([]);
    expect(ds.expireCooldowns(200)).toEqual(['10.0.0.11', '10.0.0.12']);
    expect(ds.nextCooldownExpiry()).toBe(300);
    expect(ds.totals()).toEqual({ total: 3, assigned: 0, cooling: 1, free: 2 });
  });
});

describe('restoreAddressState', () => {
  it('refuses unknown addresses, busy addresses and a key holding two addresses', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11']);
    const state = {
      type: 'assigned',
      key: { containerId: 'c', ifName: 'eth0' },
      pod: { uid: 'u', namespace: 'ns', name: 'p' },
      assignedAt: 0,
    } as const;
    expect(() => {
      ds.restoreAddressState('10.0.0.99', state);
    }).toThrow(/on no ENI/);
    ds.restoreAddressState('10.0.0.10', state);
    expect(() => {
      ds.restoreAddressState('10.0.0.10', { type: 'cooling', until: 1 });
    }).toThrow(/appears twice/);
    expect(() => {
      ds.restoreAddressState('10.0.0.11', state);
    }).toThrow(/holds both 10\.0\.0\.10 and 10\.0\.0\.11/);
  });
});

describe('Datastore.transfer (a VM keeps its address across pods)', () => {
  it("moves the owner's address to the new attachment and frees the old key", () => {
    const ds = new Datastore();
    ds.addEni({
      id: 'eni-1',
      subnetId: 'subnet-a',
      subnetCidr: '10.0.0.0/24',
      deviceIndex: 0,
      primary: true,
    });
    ds.addIps('eni-1', ['10.0.0.10', '10.0.0.11']);
    const owner = { kind: 'VirtualMachine', namespace: 'vms', name: 'db', uid: 'vm-uid' };
    const first = ds.assign(
      {
        key: { containerId: 'old', ifName: 'eth0' },
        pod: { uid: 'p1', namespace: 'vms', name: 'virt-launcher-db-a' },
        owner,
      },
      1,
    );
    expect(first).toMatchObject({ type: 'assigned', address: '10.0.0.10' });
    const moved = ds.transfer(
      { containerId: 'old', ifName: 'eth0' },
      { containerId: 'new', ifName: 'eth0' },
      { uid: 'p2', namespace: 'vms', name: 'virt-launcher-db-b' },
      2,
      'vm-net',
    );
    expect(moved).toMatchObject({ type: 'assigned', address: '10.0.0.10' });
    expect(ds.assignmentOf({ containerId: 'old', ifName: 'eth0' })).toBeUndefined();
    expect(ds.assignmentOf({ containerId: 'new', ifName: 'eth0' })).toMatchObject({
      address: '10.0.0.10',
      owner,
      pod: { uid: 'p2' },
      network: 'vm-net',
    });
    expect(ds.totals()).toMatchObject({ assigned: 1, free: 1 });
    // The old pod's late DEL finds nothing to free.
    expect(ds.release({ containerId: 'old', ifName: 'eth0' }, 3, 0)).toEqual({ type: 'not-found' });
  });

  it('refuses to move onto a key that holds another address', () => {
    const ds = new Datastore();
    ds.addEni({
      id: 'eni-1',
      subnetId: 'subnet-a',
      subnetCidr: '10.0.0.0/24',
      deviceIndex: 0,
      primary: true,
    });
    ds.addIps('eni-1', ['10.0.0.10', '10.0.0.11']);
    const pod = { uid: 'p', namespace: 'n', name: 'x' };
    ds.assign({ key: { containerId: 'a', ifName: 'eth0' }, pod }, 1);
    ds.assign({ key: { containerId: 'b', ifName: 'eth0' }, pod }, 1);
    expect(
      ds.transfer({ containerId: 'a', ifName: 'eth0' }, { containerId: 'b', ifName: 'eth0' }, pod, 2),
    ).toMatchObject({
      type: 'key-conflict',
    });
    expect(ds.totals().assigned).toBe(2);
  });
});

describe('listing addresses in order', () => {
  it('lists what is there after every change of addresses, never an older list', () => {
    const ds = store(PRIMARY, OTHER_SUBNET);
    const listed = (): string[] => ds.addressRecords().map((r) => r.address);
    const visited = (): string[] => {
      const out: string[] = [];
      ds.forEachAddress((address, state) => out.push(`${address} ${state.type}`));
      return out;
    };
    ds.addIps('eni-0', ['10.0.0.20', '10.0.0.9']);
    expect(listed()).toEqual(['10.0.0.9', '10.0.0.20']);
    ds.addPrefixes('eni-2', ['10.1.0.16/28']);
    expect(listed()).toHaveLength(18);
    ds.addIps('eni-0', ['10.0.0.10']);
    expect(listed().slice(0, 3)).toEqual(['10.0.0.9', '10.0.0.10', '10.0.0.20']);
    const address = assignedAddress(ds, pod(1));
    expect(visited()).toContain(`${address} assigned`);
    ds.removeIps('eni-0', ['10.0.0.20']);
    expect(listed()).not.toContain('10.0.0.20');
    ds.removePrefixes('eni-2', ['10.1.0.16/28']);
    expect(listed()).toEqual(['10.0.0.9', '10.0.0.10']);
    ds.reconcileEni('eni-0', { ips: ['10.0.0.9', '10.0.0.30'], prefixes: [] });
    expect(visited()).toEqual([
      `10.0.0.9 ${address === '10.0.0.9' ? 'assigned' : 'available'}`,
      '10.0.0.30 available',
    ]);
    expect(ds.removeEni('eni-0', { evenIfInUse: true })).toMatchObject({ type: 'removed' });
    expect(listed()).toEqual([]);
  });

  it('an ADD picks among the addresses there now: added ones are offered, removed ones never', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.20']);
    expect(assignedAddress(ds, pod(1))).toBe('10.0.0.20');
    // Added after ADDs have read the ENI's addresses: the lowest free one is the new one.
    ds.addIps('eni-0', ['10.0.0.5', '10.0.0.30']);
    expect(assignedAddress(ds, pod(2))).toBe('10.0.0.5');
    ds.removeIps('eni-0', ['10.0.0.30']);
    expect(ds.assign(pod(3), 0)).toMatchObject({ type: 'no-free-address', total: 2, assigned: 2 });
    ds.reconcileEni('eni-0', { ips: ['10.0.0.20', '10.0.0.5', '10.0.0.7'], prefixes: [] });
    expect(assignedAddress(ds, pod(3))).toBe('10.0.0.7');
    ds.addPrefixes('eni-0', ['10.0.0.48/28']);
    expect(assignedAddress(ds, pod(4))).toBe('10.0.0.48');
    ds.removeEni('eni-0', { evenIfInUse: true });
    ds.addEni(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.9']);
    expect(assignedAddress(ds, pod(5))).toBe('10.0.0.9');
    expect(ds.assign(pod(6), 0)).toMatchObject({ type: 'no-free-address', total: 1 });
  });
});

describe('changes since a mark (what the checkpoint appends instead of the whole state)', () => {
  // eni-0: .10 assigned to pod 1, .11 cooling until 1010, .12 free; eni-1: the /28 at .32, free.
  function marked(): Datastore {
    const ds = store(PRIMARY, SECOND);
    ds.addIps('eni-0', ['10.0.0.10', '10.0.0.11', '10.0.0.12']);
    ds.addPrefixes('eni-1', ['10.0.0.32/28']);
    expect(assignedAddress(ds, pod(1))).toBe('10.0.0.10');
    expect(assignedAddress(ds, pod(2))).toBe('10.0.0.11');
    ds.release(pod(2).key, 10, 1000);
    ds.markChanges();
    return ds;
  }

  const RESTORED = {
    type: 'assigned',
    key: { containerId: 'c9', ifName: 'eth0' },
    pod: { uid: 'uid-9', namespace: 'ns', name: 'pod-9' },
    assignedAt: 5,
  } as const;

  it.each<[string, (ds: Datastore) => unknown, string[] | undefined]>([
    ['nothing', () => undefined, []],
    ['an ADD', (ds) => ds.assign(pod(3), 20), ['10.0.0.12']],
    ['a retried ADD (same key, same address)', (ds) => ds.assign(pod(1), 20), []],
    ['an ADD with no free address', (ds) => ds.assign(pod(3, { constraints: { pool: 'vms' } }), 20), []],
    ['a DEL without cooldown', (ds) => ds.release(pod(1).key, 20, 0), ['10.0.0.10']],
    ['a DEL with cooldown', (ds) => ds.release(pod(1).key, 20, 30_000), ['10.0.0.10']],
    ['a DEL of an unknown key', (ds) => ds.release(pod(7).key, 20, 0), []],
    ['a transfer to a new key', (ds) => ds.transfer(pod(1).key, pod(4).key, pod(4).pod, 20), ['10.0.0.10']],
    [
      'a transfer to a new pod on the same key',
      (ds) => ds.transfer(pod(1).key, pod(1).key, pod(4).pod, 20),
      ['10.0.0.10'],
    ],
    [
      'a transfer refused: the new key holds another address',
      (ds) => {
        ds.assign(pod(3), 20);
        ds.markChanges();
        expect(ds.transfer(pod(1).key, pod(3).key, pod(3).pod, 30).type).toBe('key-conflict');
      },
      [],
    ],
    [
      'a transfer from a key that holds nothing',
      (ds) => ds.transfer(pod(7).key, pod(4).key, pod(4).pod, 20),
      [],
    ],
    ['expireCooldowns before the cooldown ends', (ds) => ds.expireCooldowns(1009), []],
    ['expireCooldowns at the end of the cooldown', (ds) => ds.expireCooldowns(1010), ['10.0.0.11']],
    [
      'an ADD after the cooldown ended (it expires first)',
      (ds) => ds.assign(pod(3, { constraints: { excludePrimaryEni: true } }), 2000),
      ['10.0.0.11', '10.0.0.32'],
    ],
    [
      'an ADD then its DEL: the address counts once',
      (ds) => {
        ds.assign(pod(3), 20);
        ds.release(pod(3).key, 30, 0);
      },
      ['10.0.0.12'],
    ],
    [
      'restoreAddressState',
      (ds) => {
        ds.restoreAddressState('10.0.0.12', RESTORED);
      },
      ['10.0.0.12'],
    ],
    [
      'a refused restoreAddressState',
      (ds) => {
        expect(() => {
          ds.restoreAddressState('10.0.0.10', RESTORED);
        }).toThrow(/appears twice/);
      },
      [],
    ],
    ['addEni', (ds) => ds.addEni(OTHER_SUBNET), undefined],
    ['addEni of an ENI already there', (ds) => ds.addEni(SECOND), []],
    ['removeEni', (ds) => ds.removeEni('eni-1'), undefined],
    ['removeEni refused while in use', (ds) => ds.removeEni('eni-0'), []],
    ['removeEni evenIfInUse', (ds) => ds.removeEni('eni-0', { evenIfInUse: true }), undefined],
    ['addIps', (ds) => ds.addIps('eni-0', ['10.0.0.13']), undefined],
    ['addIps all refused', (ds) => ds.addIps('eni-0', ['10.0.0.12', '10.1.0.5']), []],
    ['addPrefixes', (ds) => ds.addPrefixes('eni-1', ['10.0.0.48/28']), undefined],
    ['addPrefixes all refused', (ds) => ds.addPrefixes('eni-1', ['10.0.0.32/28']), []],
    ['removeIps', (ds) => ds.removeIps('eni-0', ['10.0.0.12']), undefined],
    [
      'removeIps all refused (assigned, cooling)',
      (ds) => ds.removeIps('eni-0', ['10.0.0.10', '10.0.0.11']),
      [],
    ],
    ['removePrefixes', (ds) => ds.removePrefixes('eni-1', ['10.0.0.32/28']), undefined],
    ['removePrefixes refused', (ds) => ds.removePrefixes('eni-1', ['10.0.0.48/28']), []],
    [
      'reconcileEni (even when EC2 agrees)',
      (ds) => ds.reconcileEni('eni-1', { ips: [], prefixes: ['10.0.0.32/28'] }),
      undefined,
    ],
    [
      'an ADD after a layout change',
      (ds) => {
        ds.addIps('eni-0', ['10.0.0.13']);
        ds.assign(pod(3), 20);
      },
      undefined,
    ],
    [
      'a new mark after changes',
      (ds) => {
        ds.assign(pod(3), 20);
        ds.addIps('eni-0', ['10.0.0.13']);
        ds.markChanges();
      },
      [],
    ],
    [
      'an ADD after a new mark',
      (ds) => {
        ds.release(pod(1).key, 20, 0);
        ds.markChanges();
        ds.assign(pod(3), 30);
      },
      ['10.0.0.10'],
    ],
  ])('%s', (_, operation, expected) => {
    const ds = marked();
    operation(ds);
    const changed = ds.changesSinceMark();
    expect(changed && [...changed].sort()).toEqual(expected);
  });

  it('are unknown until a first mark', () => {
    const ds = store(PRIMARY);
    ds.addIps('eni-0', ['10.0.0.10']);
    expect(ds.changesSinceMark()).toBeUndefined();
    ds.assign(pod(1), 0);
    expect(ds.changesSinceMark()).toBeUndefined();
    ds.markChanges();
    expect(ds.changesSinceMark()).toEqual(new Set());
  });

  it('stateOf tells each address its state, and undefined off every ENI', () => {
    const ds = marked();
    expect(ds.stateOf('10.0.0.10')).toMatchObject({ type: 'assigned', key: pod(1).key, assignedAt: 0 });
    expect(ds.stateOf('10.0.0.11')).toEqual({ type: 'cooling', until: 1010 });
    expect(ds.stateOf('10.0.0.12')).toEqual({ type: 'available' });
    expect(ds.stateOf('10.0.0.40')).toEqual({ type: 'available' });
    expect(ds.stateOf('10.0.0.99')).toBeUndefined();
  });
});
