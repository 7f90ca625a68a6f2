import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { SubnetAddresses } from '../../sim/address-allocator.js';
import { ipToNumber, parseCidr } from '../../ipam/address.js';
import { SeededRandom } from '../../sim/random.js';

describe('SubnetAddresses', () => {
  test('a /28 has 11 usable addresses: AWS keeps .0-.3 and the broadcast', () => {
    const subnet = new SubnetAddresses('10.0.1.0/28', new SeededRandom(1));
    expect(subnet.usableCount).toBe(11);
    const got = new Set<string>();
    for (let i = 0; i < 11; i++) got.add(subnet.allocateIp() ?? 'none');
    expect(got.size).toBe(11);
    for (const reserved of ['10.0.1.0', '10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.15'])
      expect(got.has(reserved)).toBe(false);
    expect(subnet.allocateIp()).toBeUndefined();
    expect(subnet.freeCount).toBe(0);
  });

  test('no /28 prefix fits in a /28 subnet (the reserved addresses are in its only block)', () => {
    expect(new SubnetAddresses('10.0.1.0/28', new SeededRandom(1)).allocatePrefix()).toBeUndefined();
  });

  test('a /24 holds 14 prefixes: the first and last /28 contain reserved addresses', () => {
    const subnet = new SubnetAddresses('10.0.2.0/24', new SeededRandom(3));
    const prefixes: string[] = [];
    for (let p = subnet.allocatePrefix(); p !== undefined; p = subnet.allocatePrefix()) prefixes.push(p);
    expect(prefixes).toHaveLength(14);
    expect(prefixes).not.toContain('10.0.2.0/28');
    expect(prefixes).not.toContain('10.0.2.240/28');
    expect(subnet.freeCount).toBe(251 - 14 * 16);
  });

  test('specific addresses: reserved or taken ones are refused', () => {
    const subnet = new SubnetAddresses('10.0.3.0/24', new SeededRandom(1));
    expect(subnet.allocateSpecific(ipToNumber('10.0.3.3'))).toBe(false);
    expect(subnet.allocateSpecific(ipToNumber('10.0.3.255'))).toBe(false);
    expect(subnet.allocateSpecific(ipToNumber('10.0.3.4'))).toBe(true);
    expect(subnet.allocateSpecific(ipToNumber('10.0.3.4'))).toBe(false);
  });

  test('the same seed hands out the same addresses', () => {
    const a = new SubnetAddresses('10.0.0.0/20', new SeededRandom(42));
    const b = new SubnetAddresses('10.0.0.0/20', new SeededRandom(42));
    const c = new SubnetAddresses('10.0.0.0/20', new SeededRandom(43));
    const take = (s: SubnetAddresses): (string | undefined)[] =>
      Array.from({ length: 20 }, () => s.allocateIp());
    const fromA = take(a);
    expect(take(b)).toEqual(fromA);
    expect(take(c)).not.toEqual(fromA);
  });

  test('property: addresses and prefixes never overlap, stay usable and aligned, and the free count is exact', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('ip' as const) }),
      fc.record({ kind: fc.constant('prefix' as const) }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.array(op, { maxLength: 120 }), (seed, ops) => {
        const subnet = new SubnetAddresses('10.1.0.0/25', new SeededRandom(seed));
        const held: { kind: 'ip' | 'prefix'; value: string }[] = [];
        for (const o of ops) {
          if (o.kind === 'ip') {
            const ip = subnet.allocateIp();
            if (ip !== undefined) held.push({ kind: 'ip', value: ip });
          } else if (o.kind === 'prefix') {
            const prefix = subnet.allocatePrefix();
            if (prefix !== undefined) held.push({ kind: 'prefix', value: prefix });
          } else if (held.length > 0) {
            const [gone] = held.splice(o.pick % held.length, 1);
            if (gone?.kind === 'ip') subnet.release(ipToNumber(gone.value));
            else if (gone) subnet.releasePrefix(parseCidr(gone.value).base);
          }
        }
        const addresses: number[] = [];
        for (const h of held) {
          if (h.kind === 'ip') addresses.push(ipToNumber(h.value));
          else {
            const { base, size } = parseCidr(h.value);
            expect(size).toBe(16);
            expect(base % 16).toBe(0);
            for (let a = base; a < base + size; a++) addresses.push(a);
          }
        }
        expect(new Set(addresses).size).toBe(addresses.length);
        for (const a of addresses) expect(subnet.isUsable(a)).toBe(true);
        expect(subnet.freeCount).toBe(subnet.usableCount - addresses.length);
      }),
      { numRuns: 200 },
    );
  });
});
