import { Ec2WireError } from './errors.js';
import type { Filter } from './query-protocol.js';

/** The values of one filterable attribute of a record (a record may have several, e.g. addresses). */
export type FilterFields<T> = Record<string, (item: T) => readonly (string | undefined)[]>;

function isGlob(value: string): boolean {
  return value.includes('*') || value.includes('?');
}

/** EC2 filter values accept `*` (any run) and `?` (one character). */
function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 's');
}

/**
 * EC2's filter semantics: filters are ANDed, the values of one filter ORed; `tag:KEY` matches the
 * value of tag KEY and `tag-key` the presence of a key. An unknown filter name is an error, as in
 * EC2, so a caller's typo is not a silent "match everything".
 */
export function compileFilters<T>(
  filters: readonly Filter[],
  fields: FilterFields<T>,
  tagsOf?: (item: T) => Readonly<Record<string, string>>,
): (item: T) => boolean {
  const tests = filters.map((filter): ((item: T) => boolean) => {
    // A value without wildcards matches itself only: a set lookup instead of one regular expression
    // per value (an instance-id filter carries up to 200 ids and is checked against every instance).
    const exact = new Set(filter.values.filter((v) => !isGlob(v)));
    const patterns = filter.values.filter(isGlob).map(globToRegExp);
    const matches = (v: string | undefined): boolean =>
      v !== undefined && (exact.has(v) || patterns.some((p) => p.test(v)));
    const anyMatches = (values: readonly (string | undefined)[]): boolean => values.some(matches);
    if (tagsOf && filter.name.startsWith('tag:')) {
      const key = filter.name.slice('tag:'.length);
      return (item) => matches(tagsOf(item)[key]);
    }
    if (tagsOf && filter.name === 'tag-key') return (item) => anyMatches(Object.keys(tagsOf(item)));
    if (tagsOf && filter.name === 'tag-value') return (item) => anyMatches(Object.values(tagsOf(item)));
    const field = fields[filter.name];
    if (!field) throw new Ec2WireError('InvalidParameterValue', `The filter '${filter.name}' is invalid`);
    return (item) => anyMatches(field(item));
  });
  return (item) => tests.every((test) => test(item));
}
