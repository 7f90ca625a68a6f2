/**
 * The chart's Grafana dashboard against a real Prometheus (Debian's, test/peers/install.sh
 * prometheus) scraping the agent that `npm start` runs (the built `eni-ipam demo`): every panel's
 * every query, with Grafana's variables filled in as Grafana would, must return data through
 * Prometheus's HTTP API. The scrape adds the `node` label the chart's PodMonitor adds. Everything
 * listens on 127.0.0.1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../deploy/manifests.js';
import { requireOnPath } from '../peers/paths.js';
import { spawnPeer, startOnFreePorts, waitUntilReady, type PeerProcess } from '../peers/process.js';
import { CHART_DIR } from './harness/helm.js';

const NODE = 'ip-10-0-0-180.ec2.internal';
const SCRAPE_INTERVAL = '5s';
/** Long enough for rate() windows and the demo's first ADD waits; the test stops as soon as all panels answer. */
const DATA_DEADLINE_MS = 240_000;

interface Target {
  refId: string;
  expr: string;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  datasource?: { uid: string };
}

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; query: string | { query: string } }[] };
}

const dashboard = JSON.parse(readFileSync(join(CHART_DIR, 'files', 'dashboard.json'), 'utf8')) as Dashboard;
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');

/** Grafana's variables as Grafana fills them in: all nodes, a 1-minute rate window, a 5-minute range. */
function expand(expr: string): string {
  return expr
    .replaceAll('$node', '.+')
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '5m')
    .replaceAll('$__interval', SCRAPE_INTERVAL);
}

let work: string;
let demo: PeerProcess | undefined;
let prometheus: PeerProcess | undefined;
let prometheusUrl: string;

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`);
  return body.data!.result as { metric: Record<string, string>; value: [number, string] }[];
}

beforeAll(async () => {
  const prometheusBinary = requireOnPath('prometheus', 'prometheus');
  work = mkdtempSync(join(tmpdir(), 'eni-ipam-ship-prometheus-'));
  // WARM_IP_TARGET=1 keeps the pool small, so some ADDs wait and the time-to-address panels fill.
  const metricsPort = await startOnFreePorts(2, async ([metrics, introspection]) => {
    const peer = spawnPeer(
      'eni-ipam demo',
      process.execPath,
      [
        join(REPO_ROOT, 'dist', 'cli', 'main.js'),
        'demo',
        '--duration',
        String(Math.ceil(DATA_DEADLINE_MS / 1000) + 60),
        '--metrics-port',
        String(metrics),
        '--introspection-port',
        String(introspection),
      ],
      { env: { ...process.env, WARM_IP_TARGET: '1' } },
    );
    try {
      await waitUntilReady(peer, async () => (await fetch(`http://127.0.0.1:${metrics}/metrics`)).ok, {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
    } catch (err) {
      await peer.stop();
      throw err;
    }
    demo = peer;
    return metrics!;
  });
  writeFileSync(
    join(work, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: SCRAPE_INTERVAL, evaluation_interval: SCRAPE_INTERVAL },
      scrape_configs: [
        {
          job_name: 'eni-ipam',
          static_configs: [{ targets: [`127.0.0.1:${metricsPort}`], labels: { node: NODE } }],
        },
      ],
    }),
  );
  await startOnFreePorts(1, async ([port]) => {
    const peer = spawnPeer('prometheus', prometheusBinary, [
      `--config.file=${join(work, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(work, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
    ]);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilReady(peer, async () => (await fetch(`${url}/-/ready`)).ok, {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
    } catch (err) {
      await peer.stop();
      throw err;
    }
    prometheus = peer;
    prometheusUrl = url;
  });
}, 180_000);

afterAll(async () => {
  await prometheus?.stop();
  await demo?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the Grafana dashboard', () => {
  it('is a dashboard Grafana loads: unique panel ids, a 24-column grid, queries on the chosen data source', () => {
    expect(dashboard.uid).toBe('eni-ipam');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
    }
    for (const panel of queryPanels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'node']);
  });

  it('shows per node and per cluster what the issue asks for', () => {
    const exprs = queryPanels.flatMap((p) => p.targets!.map((t) => t.expr)).join('\n');
    for (const metric of [
      'eniipam_free_ip_addresses',
      'awscni_assigned_ip_addresses',
      'eniipam_cooling_ip_addresses',
      'awscni_eni_allocated',
      'eniipam_add_waiting',
      'eniipam_add_wait_seconds_bucket',
      'awscni_ec2api_req_count',
      'eniipam_aws_api_throttles_total',
      'eniipam_leaks_found_total',
    ]) {
      expect(exprs, metric).toContain(metric);
    }
    expect(queryPanels.some((p) => p.targets!.some((t) => t.expr.includes('node=~"$node"')))).toBe(true);
    expect(queryPanels.some((p) => p.targets!.every((t) => !t.expr.includes('$node')))).toBe(true);
  });

  it(
    "every panel's every query returns data from a real Prometheus scraping `npm start`'s agent",
    async () => {
      const pending = new Map(
        queryPanels.flatMap((p) =>
          p.targets!.map((t) => [`${p.title} [${t.refId}]`, expand(t.expr)] as const),
        ),
      );
      const started = Date.now();
      let lastEmpty: string[] = [];
      while (pending.size > 0 && Date.now() - started < DATA_DEADLINE_MS) {
        for (const [name, expr] of pending) {
          const result = await query(expr);
          // Data: at least one series with a number (histogram_quantile over no observations is NaN).
          if (result.some((r) => Number.isFinite(Number(r.value[1])))) pending.delete(name);
        }
        lastEmpty = [...pending.keys()];
        if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 5_000));
      }
      const waited = Math.round((Date.now() - started) / 1000);
      expect(
        lastEmpty,
        `panels without data after ${waited} s; the demo said:\n${demo?.output().slice(-3000) ?? ''}`,
      ).toEqual([]);
      // The node variable lists the scraped node, as Grafana's label_values(eniipam_build_info, node) would.
      const res = await fetch(`${prometheusUrl}/api/v1/label/node/values?match[]=eniipam_build_info`);
      expect(((await res.json()) as { data: string[] }).data).toEqual([NODE]);
      // And a query that names no real metric returns nothing: the check can fail.
      expect(await query('sum(eniipam_no_such_metric)')).toEqual([]);
    },
    DATA_DEADLINE_MS + 30_000,
  );
});
