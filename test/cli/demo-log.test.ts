/**
 * What `npm start` shows a user: the built demo's console output and the agent's log, on the
 * project's pinned Node.js. The first log line names the build; nothing else writes warnings into
 * the log (the AWS SDK prints a multi-line NodeVersionSupportWarning on a Node.js it stops supporting).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const built = join(root, 'dist/cli/main.js');

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolvePort(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

function runDemo(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [built, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      done({ code, output });
    });
  });
}

describe('npm start (the built demo) on the pinned Node.js', () => {
  it('logs the version first, and neither the console nor the log carries a runtime warning', async () => {
    if (!existsSync(built)) throw new Error(`${built} is missing: run "npm run build" first`);
    const pinned = readFileSync(join(root, '.node-version'), 'utf8').trim();
    expect(process.version).toBe(`v${pinned}`);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const [metricsPort, introspectionPort] = [await freePort(), await freePort()];
    const { code, output } = await runDemo([
      '--duration',
      '3',
      '--keep',
      '--metrics-port',
      String(metricsPort),
      '--introspection-port',
      String(introspectionPort),
    ]);
    const workDir = /work directory kept: (\S+)/.exec(output)?.[1];
    try {
      expect(code, output).toBe(0);
      expect(workDir, output).toBeDefined();
      const log = readFileSync(join(workDir!, 'agent.log'), 'utf8');
      const first = JSON.parse(log.split('\n')[0]!) as Record<string, unknown>;
      expect(first).toMatchObject({ msg: 'eni-ipam starting', version: pkg.version, nodejs: pinned });
      for (const text of [output, log]) {
        expect(text).not.toMatch(/Warning|NodeVersionSupport|DeprecationWarning/);
      }
    } finally {
      if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
    }
  }, 30_000);
});
