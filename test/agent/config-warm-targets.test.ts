import { describe, expect, it } from 'vitest';
import { parseBool, parseCount } from '../../agent/config-schema.js';
import { parseWarmTargets } from '../../agent/config-warm-targets.js';
import { InvalidConfigError } from '../../agent/errors.js';
import { ConfigError } from '../../ipam/errors.js';

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
    ['WARM_IP_TARGET', 'abc', 'WARM_IP_TARGET="abc" is invalid; accepted: a whole number >= 0'],
    ['WARM_ENI_TARGET', '-1', 'WARM_ENI_TARGET="-1" is invalid; accepted: a whole number >= 0'],
    ['MINIMUM_IP_TARGET', '1.5', 'MINIMUM_IP_TARGET="1.5" is invalid; accepted: a whole number >= 0'],
    ['WARM_PREFIX_TARGET', ' 1', 'WARM_PREFIX_TARGET=" 1" is invalid; accepted: a whole number >= 0'],
    ['WARM_IP_TARGET', '1e3', 'WARM_IP_TARGET="1e3" is invalid; accepted: a whole number >= 0'],
    ['WARM_IP_TARGET', '+5', 'WARM_IP_TARGET="+5" is invalid; accepted: a whole number >= 0'],
    [
      'WARM_IP_TARGET',
      '99999999999999999999',
      'WARM_IP_TARGET="99999999999999999999" is invalid; accepted: a whole number >= 0',
    ],
    ['MAX_ENI', '0', 'MAX_ENI="0" is invalid; accepted: a whole number >= 1'],
    [
      'ENABLE_PREFIX_DELEGATION',
      'yes',
      'ENABLE_PREFIX_DELEGATION="yes" is invalid; accepted: true or false (also 1/0, t/f, TRUE/FALSE, True/False, as the AWS VPC CNI accepts)',
    ],
    [
      'ENABLE_PREFIX_DELEGATION',
      'on',
      'ENABLE_PREFIX_DELEGATION="on" is invalid; accepted: true or false (also 1/0, t/f, TRUE/FALSE, True/False, as the AWS VPC CNI accepts)',
    ],
  ])('%s=%j is a ConfigError', (variable, value, message) => {
    let caught: unknown;
    try {
      parseWarmTargets({ [variable]: value });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as InvalidConfigError;
    expect(err.message).toBe(`invalid configuration:\n  - ${message}`);
    expect(err).toMatchObject({ code: 'ERR_ENI_IPAM_CONFIG', name: 'ConfigError', variable, value });
  });

  it('reads with the schema parsers every other variable uses', () => {
    expect(parseCount('7', 5)).toEqual({ ok: true, value: 7 });
    expect(parseCount('4', 5)).toEqual({ ok: false });
    expect(parseBool('yes')).toEqual({ ok: false });
    expect(parseBool('true')).toEqual({ ok: true, value: true });
  });

  it('names every bad variable at once', () => {
    expect(() => parseWarmTargets({ WARM_IP_TARGET: 'x', MAX_ENI: '0' })).toThrow(
      expect.objectContaining({
        issues: [
          expect.objectContaining({ variable: 'WARM_IP_TARGET' }),
          expect.objectContaining({ variable: 'MAX_ENI' }),
        ],
      }) as Error,
    );
  });
});
