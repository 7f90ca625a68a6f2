/**
 * Fuzzes the plugin in-process (runPlugin is main.ts minus the process) against a live CniServer:
 * whatever the environment and stdin, the plugin ends in bounded time with exit 0 or 1 and, on 1,
 * well-formed CNI error JSON. The spawned binary gets a sample of the same inputs in
 * plugin-exec.test.ts.
 */
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniServer } from '../../agent/cni-server.js';
import { runPlugin } from '../../cni/plugin.js';
import { systemClock } from '../../time/clock.js';
import { FakeBackend } from './fake-backend.js';
import { checkPluginOutput, pluginInvocation, type FuzzPaths } from './plugin-input-arbitrary.js';

let dir: string;
let paths: FuzzPaths;
let server: CniServer;
const backend = new FakeBackend(10_000);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eni-ipam-fuzz-'));
  paths = {
    socket: join(dir, 'ipam.sock'),
    missingSocket: join(dir, 'nobody.sock'),
    spool: join(dir, 'spool.jsonl'),
  };
  server = new CniServer({ socketPath: paths.socket, backend });
  await server.start();
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** Far above any answer from a live or missing local socket; reaching it means a hang. */
const HANG_MS = 5_000;

async function withinBound<T>(run: Promise<T>): Promise<T> {
  const stop = new AbortController();
  const hang = systemClock.sleep(HANG_MS, stop.signal).then(() => {
    throw new Error(`plugin run did not finish within ${HANG_MS} ms`);
  });
  try {
    // race() subscribes to `hang`, so its AbortError after stop.abort() is handled.
    return await Promise.race([run, hang]);
  } finally {
    stop.abort();
  }
}

describe('plugin fuzz (in-process)', () => {
  it('never crashes, never hangs, always speaks CNI', async () => {
    let sawSuccess = 0;
    let sawAgentCall = 0;
    await fc.assert(
      fc.asyncProperty(pluginInvocation(paths), async ({ env, stdin }) => {
        const before = backend.calls.length;
        const out = await withinBound(
          runPlugin({ env, readStdin: () => Promise.resolve(stdin), clock: systemClock }),
        );
        checkPluginOutput(out.exitCode, out.stdout);
        if (out.exitCode === 0) sawSuccess++;
        if (backend.calls.length > before) sawAgentCall++;
      }),
      { numRuns: 400, seed: 20261124 },
    );
    // The generator must reach the agent, not just fail validation.
    expect(sawSuccess).toBeGreaterThan(10);
    expect(sawAgentCall).toBeGreaterThan(10);
  });
});
