import { AddressFormatError } from './errors.js';
import { expandEntry, sortByAddress } from './address.js';

/**
 * Compares address lists: every count is the size of a set of distinct addresses, never a sum of
 * records, so two records of one address count once. (Kube-OVN summed overlapping records and
 * reported more addresses in use than its subnet had.)
 */

export interface SourceComparison {
  /** Distinct addresses across all sources. */
  readonly distinct: number;
  /** Every source names the same set of addresses. */
  readonly agree: boolean;
  readonly sources: readonly {
    readonly name: string;
    /** Entries as listed (a /28 is one entry). */
    readonly entries: number;
    /** Distinct addresses after expanding prefixes: a /32 inside a listed /28 counts once. */
    readonly distinct: number;
    /** Addresses other sources have and this one lacks, lowest first. */
    readonly missing: readonly string[];
    /** Entries that are neither an IPv4 address nor a CIDR. */
    readonly invalid: readonly string[];
  }[];
}

/**
 * Compares address lists from several sources (e.g. the datastore and EC2's DescribeNetworkInterfaces
 * after a reconcile). Entries are addresses ("10.0.0.5") or CIDRs ("10.0.0.16/28").
 */
export function compareAddressSources(sources: Readonly<Record<string, Iterable<string>>>): SourceComparison {
  const expanded = Object.entries(sources).map(([name, list]) => {
    const entries = [...list];
    const set = new Set<string>();
    const invalid: string[] = [];
    for (const entry of entries) {
      try {
        for (const ip of expandEntry(entry)) set.add(ip);
      } catch (error) {
        if (!(error instanceof AddressFormatError || error instanceof RangeError)) throw error;
        invalid.push(entry);
      }
    }
    return { name, entries: entries.length, set, invalid };
  });
  const union = new Set(expanded.flatMap((s) => [...s.set]));
  const ordered = sortByAddress(union);
  const result = expanded.map((s) => ({
    name: s.name,
    entries: s.entries,
    distinct: s.set.size,
    missing: ordered.filter((a) => !s.set.has(a)),
    invalid: s.invalid,
  }));
  return {
    distinct: union.size,
    agree: result.every((s) => s.missing.length === 0 && s.invalid.length === 0),
    sources: result,
  };
}
