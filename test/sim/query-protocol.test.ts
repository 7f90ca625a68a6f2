import { describe, expect, test } from 'vitest';
import { QueryParams } from '../../sim/query-protocol.js';
import { Versioned } from '../../sim/versioned.js';

describe('QueryParams', () => {
  test("reads EC2's flattened lists, filters and tag specifications in index order", () => {
    const p = new QueryParams(
      'Action=CreateNetworkInterface&Version=2016-11-15&SecurityGroupId.2=sg-b&SecurityGroupId.1=sg-a&SecurityGroupId.10=sg-j' +
        '&Filter.1.Name=tag%3Aowner&Filter.1.Value.1=a&Filter.1.Value.2=b&Filter.2.Name=vpc-id&Filter.2.Value.1=v' +
        '&TagSpecification.1.ResourceType=network-interface&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v%20w',
    );
    expect(p.action).toBe('CreateNetworkInterface');
    expect(p.list('SecurityGroupId')).toEqual(['sg-a', 'sg-b', 'sg-j']);
    expect(p.filters()).toEqual([
      { name: 'tag:owner', values: ['a', 'b'] },
      { name: 'vpc-id', values: ['v'] },
    ]);
    expect(p.tags('TagSpecification.1.Tag')).toEqual([{ key: 'k', value: 'v w' }]);
  });

  test('typed readers reject malformed values with EC2 error codes', () => {
    const p = new QueryParams('A=x&B=maybe');
    expect(() => p.int('A')).toThrow(expect.objectContaining({ code: 'InvalidParameterValue' }) as Error);
    expect(() => p.bool('B')).toThrow(expect.objectContaining({ code: 'InvalidParameterValue' }) as Error);
    expect(() => p.require('C')).toThrow(expect.objectContaining({ code: 'MissingParameter' }) as Error);
  });
});

describe('Versioned', () => {
  test('readers see the newest version visible at their time; deletions too', () => {
    const v = new Versioned('a', 0);
    v.set('b', 100);
    v.set(undefined, 200);
    expect(v.current).toBeUndefined();
    expect(v.visible(99)).toBe('a');
    expect(v.visible(150)).toBe('b');
    expect(v.isGone(199)).toBe(false);
    expect(v.visible(200)).toBeUndefined();
    expect(v.isGone(200)).toBe(true);
  });
});
