/** Prints line coverage of one source folder from vitest's json-summary and fails under the target. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface Totals {
  lines: { total: number; covered: number };
}
const [file, folder, targetArg] = process.argv.slice(2);
if (!file || !folder) {
  console.error('usage: ci-coverage coverage-summary.json FOLDER/ [TARGET_PERCENT]');
  process.exit(2);
}
const target = Number(targetArg ?? 90);
const summary = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Totals>;
const prefix = path.resolve(folder) + path.sep;
let total = 0;
let covered = 0;
for (const [name, totals] of Object.entries(summary)) {
  if (name === 'total' || !path.resolve(name).startsWith(prefix)) continue;
  total += totals.lines.total;
  covered += totals.lines.covered;
}
const percent = total === 0 ? 0 : (100 * covered) / total;
console.log(`coverage ${folder}: lines ${percent.toFixed(1)} % (${covered}/${total}), target ${target} %`);
if (percent < target) process.exit(1);
