import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../ipam/errors.js';
import { parseWarmTargets, readBoolean, readWholeNumber } from '../../ipam/warm-targets.js';

describe('parseWarmTargets', () => {
  it('defaults to WARM_ENI_TARGET=1 and nothing else', () => {
    expect(parseWarmTargets({})).toEqual({
      warmEniTarget: 1,
      warmIpTarget: undefined,
      minimumIpTarget: undefined,
      warmPrefixTarget: undefined,
      maxEni: undefined,
      prefixDelegation: false,
    });
  });

  it('reads every variable', () => {
    expect(
      parseWarmTargets({
        WARM_ENI_TARGET: '2',
        WARM_IP_TARGET: '5',
        MINIMUM_IP_TARGET: '10',
        WARM_PREFIX_TARGET: '1',
        MAX_ENI: '3',
        ENABLE_PREFIX_DELEGATION: 'true',
      }),
    ).toEqual({
      warmEniTarget: 2,
      warmIpTarget: 5,
      minimumIpTarget: 10,
      warmPrefixTarget: 1,
      maxEni: 3,
      prefixDelegation: true,
    });
  });

  it('keeps an explicit 0 and treats an empty string as unset', () => {
    const targets = parseWarmTargets({
      WARM_ENI_TARGET: '0',
      WARM_IP_TARGET: '0',
      MINIMUM_IP_TARGET: '',
      MAX_ENI: '',
    });
    expect(targets.warmEniTarget).toBe(0);
    expect(targets.warmIpTarget).toBe(0);
    expect(targets.minimumIpTarget).toBeUndefined();
    expect(targets.maxEni).toBeUndefined();
    expect(parseWarmTargets({ WARM_ENI_TARGET: '' }).warmEniTarget).toBe(1);
    expect(parseWarmTargets({ ENABLE_PREFIX_DELEGATION: 'false' }).prefixDelegation).toBe(false);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['True', true],
    ['1', true],
    ['t', true],
    ['false', false],
    ['FALSE', false],
    ['0', false],
    ['f', false],
  ])('reads ENABLE_PREFIX_DELEGATION=%s as the AWS VPC CNI does (%s)', (value, expected) => {
    expect(parseWarmTargets({ ENABLE_PREFIX_DELEGATION: value }).prefixDelegation).toBe(expected);
  });

  it.each([
    ['WARM_IP_TARGET', 'abc', 'WARM_IP_TARGET="abc": expected a whole number >= 0'],
    ['WARM_ENI_TARGET', '-1', 'WARM_ENI_TARGET="-1": expected a whole number >= 0'],
    ['MINIMUM_IP_TARGET', '1.5', 'MINIMUM_IP_TARGET="1.5": expected a whole number >= 0'],
    ['WARM_PREFIX_TARGET', ' 1', 'WARM_PREFIX_TARGET=" 1": expected a whole number >= 0'],
    ['WARM_IP_TARGET', '1e3', 'WARM_IP_TARGET="1e3": expected a whole number >= 0'],
    [
      'WARM_IP_TARGET',
      '99999999999999999999',
      'WARM_IP_TARGET="99999999999999999999": expected a whole number >= 0',
    ],
    ['MAX_ENI', '0', 'MAX_ENI="0": expected a whole number >= 1'],
    [
      'ENABLE_PREFIX_DELEGATION',
      'yes',
      'ENABLE_PREFIX_DELEGATION="yes": expected "true" or "false" (also 1/0, t/f, True/False)',
    ],
    [
      'ENABLE_PREFIX_DELEGATION',
      'on',
      'ENABLE_PREFIX_DELEGATION="on": expected "true" or "false" (also 1/0, t/f, True/False)',
    ],
  ])('%s=%j is a ConfigError', (variable, value, message) => {
    let caught: unknown;
    try {
      parseWarmTargets({ [variable]: value });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.message).toBe(message);
    expect(err).toMatchObject({ code: 'ERR_ENI_IPAM_CONFIG', name: 'ConfigError', variable, value });
  });

  it('exports its readers for the agent config, with the same messages', () => {
    expect(readWholeNumber({ X: '7' }, 'X', 5)).toBe(7);
    expect(() => readWholeNumber({ X: '4' }, 'X', 5)).toThrow('X="4": expected a whole number >= 5');
    expect(readBoolean({}, 'X')).toBeUndefined();
    expect(readBoolean({ X: 'true' }, 'X')).toBe(true);
  });
});
