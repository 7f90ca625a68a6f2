import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dispatch, SUBCOMMANDS, usage } from '../../cli/main.js';

const root = resolve(import.meta.dirname, '../..');
const built = join(root, 'dist/cli/main.js');

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

/** Runs the built `eni-ipam` (npm test builds first: `npx tsc -p tsconfig.build.json`). */
function eniIpam(args: string[], stdin?: string, script = built) {
  if (!existsSync(script))
    throw new Error(`${script} is missing: run "npx tsc -p tsconfig.build.json" first`);
  const result = spawnSync(process.execPath, [script, ...args], {
    input: stdin ?? '',
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('eni-ipam dispatcher', () => {
  it('--help lists every subcommand with its summary and exits 0', async () => {
    const c = capture();
    expect(await dispatch(['--help'], c.io)).toBe(0);
    for (const [name, command] of Object.entries(SUBCOMMANDS)) {
      expect(c.out()).toContain(name);
      expect(c.out()).toContain(command.summary);
    }
  });

  it('no command: usage on stderr, exit 2', async () => {
    const c = capture();
    expect(await dispatch([], c.io)).toBe(2);
    expect(c.err()).toBe(usage());
  });

  it('an unknown command exits 2 with the usage', async () => {
    const c = capture();
    expect(await dispatch(['frobnicate'], c.io)).toBe(2);
    expect(c.err()).toContain('unknown command "frobnicate"');
    expect(c.err()).toContain('Usage: eni-ipam');
    expect(await dispatch(['toString'], capture().io)).toBe(2);
  });

  it('imports nothing but Node built-ins and the version constant, so start-up stays light', () => {
    const source = readFileSync(join(root, 'cli/main.ts'), 'utf8');
    expect(source.startsWith('#!/usr/bin/env node\n')).toBe(true);
    const staticImports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(staticImports.length).toBeGreaterThan(0);
    for (const specifier of staticImports) expect(specifier).toMatch(/^(node:|\.\.\/agent\/build-info\.js$)/);
    // ...and the version module imports package.json alone.
    const buildInfo = readFileSync(join(root, 'agent/build-info.ts'), 'utf8');
    const its = [...buildInfo.matchAll(/^import .* from '([^']+)'/gm)].map((m) => m[1]);
    expect(its).toEqual(['../package.json']);
  });
});

describe('eni-ipam (built)', () => {
  it('max-pods --instance-type m5.large prints 29', () => {
    expect(eniIpam(['max-pods', '--instance-type', 'm5.large'])).toEqual({
      code: 0,
      stdout: '29\n',
      stderr: '',
    });
  });

  it('max-pods with an unknown type exits non-zero naming it', () => {
    const result = eniIpam(['max-pods', '--instance-type', 'm9.huge']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('"m9.huge"');
  });

  it('plan reads stdin and prints JSON', () => {
    const input = JSON.stringify({
      limits: { maxEnis: 3, ipv4PerEni: 10, maxPods: 29, prefixes: false },
      env: { WARM_IP_TARGET: '2', MINIMUM_IP_TARGET: '5' },
      enis: [{ id: 'eni-a', primary: true, ips: 0, assigned: 0, cooldown: 0, prefixes: 0 }],
      pending: 0,
    });
    const result = eniIpam(['plan'], input);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      poolTooLow: true,
      poolTooHigh: false,
      short: 5,
      over: 0,
      actions: [{ type: 'assignIps', eni: 'eni-a', count: 5 }],
      capacity: 27,
    });
  });

  it('plan with a bad field exits 1 naming it', () => {
    const result = eniIpam(
      ['plan'],
      '{"limits": {"maxEnis": 3, "ipv4PerEni": 10, "maxPods": 29, "prefixes": false}, "enis": [{"id": "a", "assigned": "x"}]}',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('enis[0].assigned: expected a whole number >= 0');
    expect(result.stdout).toBe('');
  });

  it('an unknown command exits 2', () => {
    expect(eniIpam(['nope']).code).toBe(2);
  });

  it('runs through a symlink, as npm installs the bin', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eni-ipam-bin-'));
    try {
      const link = join(dir, 'eni-ipam');
      symlinkSync(built, link);
      expect(eniIpam(['max-pods', '--instance-type', 't3.medium'], undefined, link)).toMatchObject({
        code: 0,
        stdout: '17\n',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('eni-ipam --version', () => {
  it("prints the version of package.json, the project's one place for it, from the built command", () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const result = eniIpam(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`eni-ipam ${pkg.version}\n`);
  });
});
