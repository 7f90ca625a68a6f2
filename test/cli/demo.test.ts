/**
 * `eni-ipam demo` after a start-up error (a bad variable, a port in use): it exits with the error
 * instead of hanging, and leaves no work directory behind. Run as the built command, with TMPDIR
 * pointing at a directory of the test's own, so that what it leaves can be seen.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'eni-ipam-demo-cli-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function demo(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'demo', '--duration', '30', ...args], {
      env: { PATH: process.env['PATH'] ?? '', TMPDIR: tmp, ...env },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // A demo that started would run 30 s; a failed start-up must end well before.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`eni-ipam demo did not exit after a start-up error:\n${stderr}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

async function busyPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

describe('eni-ipam demo after a start-up error', () => {
  it('exits 2 naming a bad variable, and leaves no work directory', async () => {
    const { code, stderr } = await demo(['--metrics-port', '1', '--introspection-port', '2'], {
      WARM_IP_TARGET: 'abc',
    });
    expect(stderr).toMatch(/WARM_IP_TARGET="abc" is invalid/);
    expect(code).toBe(2);
    expect(readdirSync(tmp).filter((n) => n.startsWith('eni-ipam-demo-'))).toEqual([]);
  });

  it(
    'exits 1 naming the port in use and what to do, and leaves no work directory',
    { timeout: 30_000 },
    async () => {
      // Both ports held by this test: a port chosen beside a busy one may be another process's
      // (tests run in parallel), and the demo may open either first.
      const metrics = await busyPort();
      const introspection = await busyPort();
      try {
        const { code, stderr } = await demo([
          '--metrics-port',
          String(metrics.port),
          '--introspection-port',
          String(introspection.port),
        ]);
        expect(stderr).toMatch(
          new RegExp(
            `could not start: cannot listen on 127\\.0\\.0\\.1:(${metrics.port}|${introspection.port})`,
          ),
        );
        expect(stderr).toContain('choose another port with --metrics-port');
        expect(code).toBe(1);
      } finally {
        metrics.server.close();
        introspection.server.close();
      }
      expect(readdirSync(tmp).filter((n) => n.startsWith('eni-ipam-demo-'))).toEqual([]);
    },
  );
});
