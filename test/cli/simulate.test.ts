/**
 * `eni-ipam simulate` exit codes as docs/scenarios.md gives them: 2 for a bad scenario file (missing,
 * unknown instance type, bad CIDR), naming the field path. Run as the built command, as users do.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const EXAMPLE = new URL('../../scenarios/example.json', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'eni-ipam-simulate-cli-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function simulate(file: string): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, [MAIN, 'simulate', file], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stderr: run.stderr };
}

/** The fields these cases change. */
interface ScenarioJson {
  ec2: { vpcCidr: string; subnets: { cidr: string }[] };
  nodes: { instanceType: string }[];
}

function variant(name: string, change: (scenario: ScenarioJson) => void): string {
  const scenario = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as ScenarioJson;
  change(scenario);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(scenario));
  return file;
}

describe('eni-ipam simulate: a bad scenario file exits 2, naming what is wrong', () => {
  it.each([
    [
      'a missing file',
      () => join(dir, 'absent.json'),
      /cannot read the scenario file .*absent\.json: no such file/,
    ],
    [
      'an unknown instance type',
      () => variant('type', (s) => (s.nodes[0]!.instanceType = 'm9.huge')),
      /nodes\[0\]\.instanceType: unknown instance type m9\.huge/,
    ],
    [
      'a bad subnet CIDR',
      () => variant('cidr', (s) => (s.ec2.subnets[0]!.cidr = '10.0.0.0/99')),
      /ec2\.subnets\[0\]\.cidr: "10\.0\.0\.0\/99": prefix length 99 is over 32/,
    ],
    ['a bad VPC CIDR', () => variant('vpc', (s) => (s.ec2.vpcCidr = '10.0.0/16')), /ec2\.vpcCidr: /],
  ])('%s', (_what, file, message) => {
    const { status, stderr } = simulate(file());
    expect(stderr).toMatch(message);
    expect(status).toBe(2);
  });
});
