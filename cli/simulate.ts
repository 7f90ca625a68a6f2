import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { LogLevelName } from '../agent/config-schema.js';
import { parseScenario, ScenarioError } from '../sim/runner/scenario.js';
import { summaryText } from '../sim/runner/report.js';
import { runScenario } from '../sim/runner/runner.js';

/**
 * `eni-ipam simulate`: runs a scenario (docs/scenarios.md) against the simulated EC2 with one real
 * agent per simulated node, prints the report as JSON (stdout, or --out) and a summary on stderr.
 */

const USAGE = `Usage: eni-ipam simulate SCENARIO.json [--realtime] [--out REPORT.json] [--log-level LEVEL]

Runs the scenario: a simulated EC2, one eni-ipam agent per simulated node, pods driven through
each agent's CNI endpoint. Prints the report (JSON) on stdout, or writes it to --out, and a short
summary on stderr. Exit code 0 when the end checks found no leak, double assignment or mismatch.

  --realtime          real time, the simulated EC2 served over HTTP on loopback (small scenarios)
  --out FILE          write the report there instead of stdout
  --log-level LEVEL   the agents' logs on stderr (debug, info, warn, error); default: none
  -h, --help          show this help
`;

const LOG_LEVELS: readonly LogLevelName[] = ['debug', 'info', 'warn', 'error'];

export async function run(argv: string[]): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        realtime: { type: 'boolean', default: false },
        out: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`eni-ipam simulate: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) {
    process.stderr.write(`eni-ipam simulate: expected exactly one scenario file\n\n${USAGE}`);
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    process.stderr.write(`eni-ipam simulate: cannot read the scenario file ${file}: ${why}\n`);
    return 2;
  }
  let scenario;
  try {
    scenario = parseScenario(JSON.parse(text) as unknown);
  } catch (err) {
    if (err instanceof ScenarioError || err instanceof SyntaxError) {
      process.stderr.write(`eni-ipam simulate: ${file}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const level = values['log-level'];
  if (level !== undefined && !LOG_LEVELS.includes(level as LogLevelName)) {
    process.stderr.write(`eni-ipam simulate: --log-level: expected one of ${LOG_LEVELS.join(', ')}\n`);
    return 2;
  }
  const { report } = await runScenario(scenario, {
    realtime: values.realtime,
    ...(level === undefined ? {} : { log: { level: level as LogLevelName, destination: process.stderr } }),
  });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (values.out === undefined) process.stdout.write(json);
  else await writeFile(values.out, json);
  process.stderr.write(`${summaryText(report)}\n`);
  const { end } = report;
  return end.leakedAddresses + end.leakedEnis + end.doubleAssignments + end.accountingMismatches === 0
    ? 0
    : 1;
}
