/**
 * The real helm (test/peers/install.sh helm) run on deploy/chart: lint, template into objects, and
 * install against a kubeconfig. Values are passed as a file, exactly as a user's -f values.yaml.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, type KubeObject } from '../../deploy/manifests.js';
import { peerPaths, requireExecutable } from '../../peers/paths.js';

export const CHART_DIR = join(REPO_ROOT, 'deploy', 'chart');
export const RELEASE = 'eni-ipam';
export const NAMESPACE = 'kube-system';

export interface HelmResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs helm with its own empty config, cache and data directories: no user's repositories leak in. */
export function helm(args: readonly string[]): HelmResult {
  const binary = requireExecutable('helm', peerPaths.helm);
  const home = mkdtempSync(join(tmpdir(), 'eni-ipam-ship-helm-'));
  try {
    const result = spawnSync(binary, args, {
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: home,
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_DATA_HOME: join(home, 'data'),
      },
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Writes `values` to a temporary values file, runs `fn` with its path, removes it. */
export function withValuesFile<T>(values: object, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'eni-ipam-ship-values-'));
  try {
    const path = join(dir, 'values.yaml');
    writeFileSync(path, JSON.stringify(values));
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm template` with the CRDs, parsed into objects; throws with helm's message when it fails. */
export function renderChart(values: object = {}): KubeObject[] {
  return withValuesFile(values, (file) => {
    const result = helm([
      'template',
      RELEASE,
      CHART_DIR,
      '--namespace',
      NAMESPACE,
      '--include-crds',
      '-f',
      file,
    ]);
    if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
    return parseAllDocuments(result.stdout)
      .map((doc) => {
        if (doc.errors.length > 0) throw new Error(`helm template output: ${doc.errors[0]!.message}`);
        return doc.toJS() as KubeObject | null;
      })
      .filter((o): o is KubeObject => o !== null);
  });
}

/** The one rendered object of `kind`; throws when there is none or several. */
export function objectOf(objects: readonly KubeObject[], kind: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in the render, found ${found.length}`);
  return found[0]!;
}
