import { describe, expect, it } from 'vitest';
import { compileFilters, type FilterFields } from '../../sim/filters.js';

interface Item {
  id: string;
  ips: string[];
  tags: Record<string, string>;
}

const FIELDS: FilterFields<Item> = { id: (i) => [i.id], ip: (i) => i.ips };
const ITEMS: Item[] = [
  { id: 'i-01', ips: ['10.0.0.1', '10.0.0.2'], tags: { team: 'net', env: 'prod' } },
  { id: 'i-02', ips: ['10.0.1.1'], tags: { team: 'db' } },
  { id: 'i-10', ips: [], tags: {} },
];

function matching(filters: { name: string; values: string[] }[]): string[] {
  const match = compileFilters(filters, FIELDS, (i) => i.tags);
  return ITEMS.filter(match).map((i) => i.id);
}

describe('compileFilters', () => {
  it.each([
    {
      what: 'exact values',
      filters: [{ name: 'id', values: ['i-02', 'i-10', 'i-99'] }],
      ids: ['i-02', 'i-10'],
    },
    {
      what: 'exact and wildcard values mixed',
      filters: [{ name: 'id', values: ['i-1?', 'i-01'] }],
      ids: ['i-01', 'i-10'],
    },
    { what: 'a wildcard run', filters: [{ name: 'ip', values: ['10.0.0.*'] }], ids: ['i-01'] },
    { what: 'an exact value is not a prefix', filters: [{ name: 'id', values: ['i-0'] }], ids: [] },
    { what: 'a dot is literal', filters: [{ name: 'ip', values: ['10.0.1x1'] }], ids: [] },
    { what: 'tag value', filters: [{ name: 'tag:team', values: ['net', 'd*'] }], ids: ['i-01', 'i-02'] },
    { what: 'tag key', filters: [{ name: 'tag-key', values: ['env'] }], ids: ['i-01'] },
    {
      what: 'filters ANDed',
      filters: [
        { name: 'tag-key', values: ['team'] },
        { name: 'ip', values: ['10.0.1.1'] },
      ],
      ids: ['i-02'],
    },
  ])('$what', ({ filters, ids }) => {
    expect(matching(filters)).toEqual(ids);
  });

  it('refuses an unknown filter name', () => {
    expect(() => matching([{ name: 'colour', values: ['red'] }])).toThrow(/colour/);
  });
});
