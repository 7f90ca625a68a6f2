/**
 * The chart's PrometheusRule, rendered by the real helm and checked by the real promtool (Debian's
 * prometheus package, test/peers/install.sh prometheus): `promtool check rules` on what a cluster
 * would load, and `promtool test rules` with the input series of test/e2e/alerts.promtool.yaml, in
 * which every alert fires in one case and stays quiet in others.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { requireOnPath } from '../peers/paths.js';
import { objectOf, renderChart } from './harness/helm.js';

const TESTS = join(import.meta.dirname, 'alerts.promtool.yaml');

interface Rule {
  alert?: string;
  expr: string;
}

interface PromtoolTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

let dir: string;
let promtool: string;
let alerts: string[];

function runPromtool(args: string[]): { code: number | null; output: string } {
  const result = spawnSync(promtool, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

beforeAll(() => {
  promtool = requireOnPath('prometheus', 'promtool');
  dir = mkdtempSync(join(tmpdir(), 'eni-ipam-ship-alerts-'));
  const rule = objectOf(renderChart({ prometheusRule: { enabled: true } }), 'PrometheusRule') as unknown as {
    spec: { groups: { name: string; rules: Rule[] }[] };
  };
  alerts = rule.spec.groups.flatMap((g) =>
    g.rules.map((r) => r.alert).filter((a): a is string => a !== undefined),
  );
  // A PrometheusRule's spec is a Prometheus rule file.
  writeFileSync(join(dir, 'rules.yaml'), JSON.stringify(rule.spec));
  copyFileSync(TESTS, join(dir, 'tests.yaml'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the chart's alerts with the real promtool", () => {
  it('are the alerts operators page on', () => {
    expect(alerts.sort()).toEqual([
      'EniIpamAgentRestarting',
      'EniIpamCheckpointWriteFailing',
      'EniIpamEc2Throttled',
      'EniIpamLeakedEnisFound',
      'EniIpamPodAddsFailing',
      'EniIpamPoolExhausted',
      'EniIpamSubnetNearlyFull',
    ]);
  });

  it('pass `promtool check rules`', () => {
    const result = runPromtool(['check', 'rules', 'rules.yaml']);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  it('each have a case where they fire and one where they stay quiet', () => {
    const tests = parse(readFileSync(TESTS, 'utf8')) as PromtoolTests;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${alert} fires somewhere`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${alert} stays quiet somewhere`,
      ).toBe(true);
    }
  });

  it('pass `promtool test rules` with those input series', () => {
    const result = runPromtool(['test', 'rules', 'tests.yaml']);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('fail `promtool test rules` when a threshold moves: the tests can fail', () => {
    const rules = readFileSync(join(dir, 'rules.yaml'), 'utf8').replace('< 50', '< 10');
    writeFileSync(join(dir, 'rules.yaml'), rules);
    try {
      const result = runPromtool(['test', 'rules', 'tests.yaml']);
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('EniIpamSubnetNearlyFull');
    } finally {
      const rule = objectOf(
        renderChart({ prometheusRule: { enabled: true } }),
        'PrometheusRule',
      ) as unknown as {
        spec: unknown;
      };
      writeFileSync(join(dir, 'rules.yaml'), JSON.stringify(rule.spec));
    }
  });
});
