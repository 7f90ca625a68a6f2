/**
 * The agent bundle that `npm run build` makes (scripts/build-agent-bundle.ts) and the image runs:
 * it dispatches every command as the compiled CLI does, runs the agent's own code, and loads the
 * Redis client and the CloudWatch client only when they are configured.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS, AGENT_PROCESS_ENV, BUNDLE_ENTRY_FILE } from '../../scripts/build-agent-bundle.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bundleDir = join(repoRoot, 'dist', 'bundle');
const entry = join(bundleDir, BUNDLE_ENTRY_FILE);
const compiledCli = join(repoRoot, 'dist', 'cli', 'main.js');

/** Text that only the ioredis package and only the CloudWatch client carry. */
const IOREDIS_MARKER = 'Redis is already connecting';
const CLOUDWATCH_MARKER = 'PutMetricDataInput';

function run(file: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...AGENT_NODE_FLAGS, file, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...AGENT_PROCESS_ENV, ...env },
    encoding: 'utf8',
  });
}

function bundleFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else files.push(join(dir, e.name));
    }
  };
  walk(bundleDir);
  return files;
}

beforeAll(() => {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
});

describe('the agent bundle (dist/bundle)', () => {
  it('lists the commands on --help, as the compiled CLI does', () => {
    const bundled = run(entry, ['--help']);
    expect(bundled.status).toBe(0);
    expect(bundled.stdout).toBe(run(compiledCli, ['--help']).stdout);
    expect(bundled.stdout).toContain('agent');
  });

  it('answers a subcommand with the same output as the compiled CLI', () => {
    const args = ['max-pods', '--instance-type', 'm5.large'];
    const bundled = run(entry, args);
    expect(bundled.status, bundled.stderr).toBe(0);
    expect(bundled.stdout).toBe(run(compiledCli, args).stdout);
  });

  it("runs the agent's own code: a bad setting stops it with the variable named", () => {
    const agent = run(entry, ['agent'], { MY_NODE_NAME: 'ip-10-0-1-5', WARM_IP_TARGET: 'abc' });
    expect(agent.status).toBe(2);
    expect(agent.stderr).toContain('WARM_IP_TARGET');
    // No warning on start (a deprecated built-in pulled in by bundling would print one).
    expect(agent.stderr).not.toContain('Warning');
  });

  it('loads neither ioredis nor the CloudWatch client when the agent loads without them', () => {
    const all = bundleFiles().map((f) => readFileSync(f, 'utf8'));
    // Both are in the bundle, for the configurations that use them...
    expect(all.some((text) => text.includes(IOREDIS_MARKER))).toBe(true);
    expect(all.some((text) => text.includes(CLOUDWATCH_MARKER))).toBe(true);
    // ...and not among the files the agent's command loads.
    const hook =
      'data:text/javascript,import{registerHooks}from"node:module";registerHooks({load(url,c,next){if(url.startsWith("file:"))process.stderr.write("LOADED "+url+"\\n");return next(url,c)}})';
    const agent = spawnSync(process.execPath, ['--import', hook, entry, 'agent', '--help'], {
      env: { PATH: process.env['PATH'] ?? '' },
      encoding: 'utf8',
    });
    expect(agent.status, agent.stderr).toBe(0);
    const loaded = [...agent.stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => fileURLToPath(m[1] ?? ''));
    expect(loaded.length).toBeGreaterThan(2);
    for (const file of loaded) {
      const text = readFileSync(file, 'utf8');
      expect(text.includes(IOREDIS_MARKER), file).toBe(false);
      expect(text.includes(CLOUDWATCH_MARKER), file).toBe(false);
    }
  });
});
