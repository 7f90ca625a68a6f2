/**
 * scripts/build-cni-plugin.ts: the plugin bundles into one file that needs nothing but Node's
 * built-ins (what a single executable can load) and still speaks CNI. The single executable itself
 * (node binary + postject, ~100 MB and seconds to make) is built by the Dockerfile, which runs the
 * same smoke test on it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlePlugin, externalRequires, smokeTest } from '../../scripts/build-cni-plugin.js';

let dir: string;
let bundle: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eni-ipam-plugin-'));
  bundle = join(dir, 'eni-ipam.cjs');
  await bundlePlugin(bundle);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('externalRequires', () => {
  it('names the modules a bundle requires that are not Node built-ins', () => {
    const code = `const a = require("node:fs"); const b = require('path'); const c = require("zod");
      const d = require( "@kubernetes/client-node" ); const e = require("node:test");`;
    expect(externalRequires(code)).toEqual(['@kubernetes/client-node', 'zod']);
  });
});

describe('the bundled CNI plugin', () => {
  it('requires only Node built-ins', async () => {
    const { readFileSync } = await import('node:fs');
    expect(externalRequires(readFileSync(bundle, 'utf8'))).toEqual([]);
  });

  it('answers VERSION as the plugin does', () => {
    const answer = JSON.parse(smokeTest(bundle, true)) as { cniVersion: string; supportedVersions: string[] };
    expect(answer.supportedVersions).toContain('1.0.0');
  });

  it('reports a CNI error as JSON on stdout with a non-zero exit', () => {
    const run = spawnSync(process.execPath, [bundle], {
      input: '{"cniVersion":"1.0.0","name":"n","ipam":{"type":"eni-ipam"}}',
      env: { CNI_COMMAND: 'ADD' },
      encoding: 'utf8',
    });
    expect(run.status).not.toBe(0);
    const error = JSON.parse(run.stdout) as { code: number; msg: string };
    expect(error.code).toBe(4); // invalid environment: CNI_CONTAINERID is missing
    expect(error.msg).toContain('CNI_CONTAINERID');
  });

  it('runs from a V8 start-up snapshot taken of it, as the snapshot executable does', () => {
    // Taking the snapshot evaluates the bundle without running the plugin; each start from the
    // snapshot then runs it (cni/main.ts defers the call to the snapshot's main function).
    const blob = join(dir, 'snapshot.blob');
    const build = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', bundle], {
      env: { PATH: process.env['PATH'] ?? '' },
      encoding: 'utf8',
    });
    expect(build.status, build.stderr).toBe(0);
    expect(build.stdout).toBe('');
    const run = spawnSync(process.execPath, ['--snapshot-blob', blob], {
      input: '',
      env: { CNI_COMMAND: 'VERSION', PATH: process.env['PATH'] ?? '' },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { supportedVersions: string[] }).supportedVersions).toContain('1.0.0');
  });

  it('fails the build when the plugin imports a package', async () => {
    const { writeFileSync } = await import('node:fs');
    const entry = join(dir, 'bad-entry.ts');
    writeFileSync(entry, "import { z } from 'zod';\nconsole.log(z.string().parse('x'));\n");
    await expect(bundlePlugin(join(dir, 'bad.cjs'), entry)).rejects.toThrow(/requires zod/);
  });
});
