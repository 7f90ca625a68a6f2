import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../agent/config.js';
import { startupFailure } from '../../agent/startup-failure.js';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const config = loadConfig({ MY_NODE_NAME: 'n1', ENI_IPAM_IMDS_ENDPOINT: 'http://127.0.0.1:40123' });

function fetchFailed(cause: object): Error {
  return new TypeError('fetch failed', { cause });
}

describe('startupFailure', () => {
  it('turns "fetch failed" into the cause with its address, and names what to check', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:40123'), {
      code: 'ECONNREFUSED',
      address: '127.0.0.1',
      port: 40123,
    });
    const text = startupFailure(fetchFailed(refused), config);
    expect(text).not.toMatch(/^fetch failed/);
    expect(text).toMatch(/^a request failed: connect ECONNREFUSED 127\.0\.0\.1:40123; check /);
    expect(text).toContain('the instance metadata endpoint http://127.0.0.1:40123 (ENI_IPAM_IMDS_ENDPOINT)');
    expect(text).toContain('(AWS_EC2_ENDPOINT, AWS_REGION)');
  });

  it('turns "Invalid URL" into the text that is not a URL', () => {
    const invalid = Object.assign(new TypeError('Invalid URL'), {
      code: 'ERR_INVALID_URL',
      input: 'http//ec2',
    });
    expect(startupFailure(invalid, config)).toMatch(/^invalid URL "http\/\/ec2"; check /);
  });

  it('keeps a message that already says what failed, adding the cause', () => {
    const err = new Error('AWS_REGION is unset and the instance metadata has no region');
    expect(startupFailure(err, config)).toMatch(
      /^AWS_REGION is unset and the instance metadata has no region; check /,
    );
  });
});

describe('the agent process with unreachable instance metadata', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eni-ipam-startup-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 1 with a line that names the endpoint and the cause (not silently, not "fetch failed")', async () => {
    // A loopback port that was free a moment ago: nothing listens there.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    await new Promise((resolve) => server.close(resolve));
    const imds = `http://127.0.0.1:${address.port}`;
    const run = spawnSync(process.execPath, [MAIN, 'agent'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: process.env['PATH'] ?? '',
        MY_NODE_NAME: 'n1',
        ENI_IPAM_IMDS_ENDPOINT: imds,
        ENI_IPAM_SOCKET: join(dir, 'ipam.sock'),
        ENI_IPAM_CHECKPOINT: join(dir, 'checkpoint.json'),
        ENI_IPAM_SPOOL: join(dir, 'spool.jsonl'),
        DISABLE_INTROSPECTION: 'true',
        DISABLE_METRICS: 'true',
      },
    });
    expect(run.status).toBe(1);
    const fatal = run.stdout
      .split('\n')
      .filter((line) => line.includes('"level":"fatal"'))
      .map((line) => JSON.parse(line) as { err: string })[0];
    expect(fatal?.err).toMatch(new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${address.port}`));
    expect(fatal?.err).toContain(`the instance metadata endpoint ${imds} (ENI_IPAM_IMDS_ENDPOINT)`);
  });
});
