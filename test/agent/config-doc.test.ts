import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, configTableMarkdown } from '../../agent/config-table.js';

const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

describe('docs/configuration.md', () => {
  it('lists every variable of the table, with its default', () => {
    for (const v of CONFIG_VARIABLES) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${v.name}\` |`));
      expect(row, `a row for ${v.name}`).toBeDefined();
      if (v.default !== undefined) expect(row).toContain(`\`${v.default}\``);
    }
  });

  it('holds exactly the generated table (regenerate it with configTableMarkdown() when this fails)', () => {
    const start = doc.indexOf('<!-- config-table:start -->\n');
    const end = doc.indexOf('\n<!-- config-table:end -->');
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const table = doc.slice(start + '<!-- config-table:start -->\n'.length, end);
    expect(table).toBe(configTableMarkdown());
  });
});
