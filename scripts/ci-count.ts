/**
 * Prints the closing line of a CI run, `tests: N passed, N failed`, from vitest's JSON report, and
 * exits non-zero when a test failed, when a suite failed to load, or when no test ran at all.
 */
import { readFileSync } from 'node:fs';

interface VitestJsonReport {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests?: number;
  numTodoTests?: number;
  numFailedTestSuites?: number;
  success?: boolean;
}

const file = process.argv[2];
if (!file) {
  console.error('usage: ci-count REPORT.json');
  process.exit(2);
}
let report: VitestJsonReport;
try {
  report = JSON.parse(readFileSync(file, 'utf8')) as VitestJsonReport;
} catch (err) {
  console.error(`cannot read the vitest JSON report ${file}: ${(err as Error).message}`);
  console.log('tests: 0 passed, 1 failed');
  process.exit(1);
}
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const failedSuites = report.numFailedTestSuites ?? 0;
// A suite that fails to import runs no test but must still fail the run.
const failed = report.numFailedTests + (failedSuites > 0 && report.numFailedTests === 0 ? failedSuites : 0);
console.log(
  `tests: ${report.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`,
);
if (failed > 0 || report.numPassedTests === 0) process.exit(1);
