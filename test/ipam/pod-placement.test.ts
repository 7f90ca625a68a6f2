import { describe, expect, it } from 'vitest';
import { PlacementError, PoolSubnetMismatchError, UnknownPoolError } from '../../ipam/errors.js';
import { resolvePlacement, type AddressPool } from '../../ipam/pod-placement.js';

const pools: AddressPool[] = [
  { name: 'db', subnetId: 'subnet-db' },
  { name: 'web', subnetId: 'subnet-web' },
];

const pod = (annotations: Record<string, string> = {}) => ({ namespace: 'shop', name: 'api-0', annotations });
const ns = (annotations: Record<string, string> = {}) => ({ annotations });
const SUBNET = 'eni-ipam.io/subnet';
const POOL = 'eni-ipam.io/pool';

describe('resolvePlacement', () => {
  it.each([
    ['no annotations: no constraint', {}, {}, {}],
    ['pod subnet', { [SUBNET]: 'subnet-x' }, {}, { subnetId: 'subnet-x' }],
    ['pod pool carries its subnet', { [POOL]: 'db' }, {}, { subnetId: 'subnet-db', pool: 'db' }],
    [
      'pod pool and its own subnet',
      { [POOL]: 'db', [SUBNET]: 'subnet-db' },
      {},
      { subnetId: 'subnet-db', pool: 'db' },
    ],
    ['namespace subnet by default', {}, { [SUBNET]: 'subnet-ns' }, { subnetId: 'subnet-ns' }],
    ['namespace pool by default', {}, { [POOL]: 'web' }, { subnetId: 'subnet-web', pool: 'web' }],
    [
      'pod subnet wins over namespace subnet',
      { [SUBNET]: 'subnet-x' },
      { [SUBNET]: 'subnet-ns' },
      { subnetId: 'subnet-x' },
    ],
    [
      'pod pool wins over namespace pool',
      { [POOL]: 'db' },
      { [POOL]: 'web' },
      { subnetId: 'subnet-db', pool: 'db' },
    ],
    [
      'pod pool wins over namespace subnet',
      { [POOL]: 'db' },
      { [SUBNET]: 'subnet-ns' },
      { subnetId: 'subnet-db', pool: 'db' },
    ],
    [
      'pod subnet drops a namespace pool of another subnet',
      { [SUBNET]: 'subnet-x' },
      { [POOL]: 'web' },
      { subnetId: 'subnet-x' },
    ],
    [
      'pod subnet keeps a namespace pool of that subnet',
      { [SUBNET]: 'subnet-web' },
      { [POOL]: 'web' },
      { subnetId: 'subnet-web', pool: 'web' },
    ],
    [
      'empty annotations are unset',
      { [SUBNET]: '', [POOL]: ' ' },
      { [SUBNET]: 'subnet-ns' },
      { subnetId: 'subnet-ns' },
    ],
  ])('%s', (_name, podAnnotations, nsAnnotations, expected) => {
    expect(resolvePlacement(pod(podAnnotations), ns(nsAnnotations), pools)).toEqual(expected);
  });

  it('a pod without annotations in a namespace without annotations has no constraint', () => {
    expect(resolvePlacement({ namespace: 'a', name: 'b' }, undefined, pools)).toEqual({});
  });

  it('a pod naming a pool of another subnet is a typed error naming pod, pool and both subnets', () => {
    let caught: unknown;
    try {
      resolvePlacement(pod({ [POOL]: 'db', [SUBNET]: 'subnet-web' }), undefined, pools);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PoolSubnetMismatchError);
    expect(caught).toBeInstanceOf(PlacementError);
    const err = caught as PoolSubnetMismatchError;
    expect(err).toMatchObject({
      pod: 'shop/api-0',
      pool: 'db',
      poolSubnetId: 'subnet-db',
      requestedSubnetId: 'subnet-web',
      source: 'pod',
    });
    for (const part of ['shop/api-0', '"db"', 'subnet-db', 'subnet-web']) expect(err.message).toContain(part);
  });

  it('a namespace whose defaults disagree is the same error, saying so', () => {
    expect(() => resolvePlacement(pod(), ns({ [POOL]: 'db', [SUBNET]: 'subnet-web' }), pools)).toThrow(
      /namespace's eni-ipam.io\/pool and eni-ipam.io\/subnet/,
    );
  });

  it('an unknown pool is an error naming it and the declared pools', () => {
    expect(() => resolvePlacement(pod({ [POOL]: 'cache' }), undefined, pools)).toThrow(UnknownPoolError);
    expect(() => resolvePlacement(pod({ [POOL]: 'cache' }), undefined, pools)).toThrow(
      'unknown address pool "cache" (declared: db, web)',
    );
    expect(() => resolvePlacement(pod(), ns({ [POOL]: 'cache' }), [])).toThrow('(declared: none)');
    expect(() => resolvePlacement(pod({ [SUBNET]: 'subnet-x' }), ns({ [POOL]: 'cache' }), pools)).toThrow(
      UnknownPoolError,
    );
  });
});
