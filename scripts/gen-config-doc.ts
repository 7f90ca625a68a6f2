/**
 * Rewrites the variables table in docs/configuration.md (and the README's copy) from the agent's
 * table of variables. Usage: npm run build && node dist/scripts/gen-config-doc.js
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configTableMarkdown } from '../agent/config-table.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const START = '<!-- config-table:start -->\n';
const END = '\n<!-- config-table:end -->';

for (const file of ['docs/configuration.md', 'README.md']) {
  const target = path.join(root, file);
  let text: string;
  try {
    text = readFileSync(target, 'utf8');
  } catch {
    continue;
  }
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) continue;
  writeFileSync(target, text.slice(0, start + START.length) + configTableMarkdown() + text.slice(end));
  console.log(`updated the variables table in ${file}`);
}
