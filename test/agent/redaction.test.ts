/**
 * No credential leaves the agent: a Redis URL with a password is configured, then every surface a
 * user or a client can read is grepped for the password: /v1/* answers, log lines (fields, error
 * stacks, messages), configuration errors, CNI error answers and the metrics server's errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CniBackend } from '../../agent/cni-backend.js';
import { CniServer } from '../../agent/cni-server.js';
import { loadConfig, type AgentConfig } from '../../agent/config.js';
import { INTROSPECTION_PATHS, IntrospectionServer } from '../../agent/introspection/introspection-server.js';
import { createLogger } from '../../agent/logger.js';
import { MetricsServer } from '../../agent/metrics/metrics-server.js';
import { FakeIntrospectionSource } from './introspection-fake.js';

const SECRET = 'S3cr3t-Pa55w0rd';
const URL_WITH_SECRET = `redis://eni-ipam:${SECRET}@redis.internal:6379/0`;
const NODE = { MY_NODE_NAME: 'ip-10-0-1-5.ec2.internal' };

describe('credentials are redacted everywhere', () => {
  let config: AgentConfig;
  beforeAll(() => {
    config = loadConfig({ ...NODE, EC2_RATE_LIMIT_REDIS_URL: URL_WITH_SECRET });
    // The agent itself still has the password: redaction is for what it shows.
    expect(config.aws.rateLimitRedisUrl).toBe(URL_WITH_SECRET);
  });

  it('in every introspection answer, /v1/config included', async () => {
    const source = new FakeIntrospectionSource();
    source.config = (): unknown => config;
    const server = new IntrospectionServer(source, { host: '127.0.0.1', port: 0 });
    const { port } = await server.start();
    try {
      let seen = '';
      for (const path of INTROSPECTION_PATHS)
        seen += await (await fetch(`http://127.0.0.1:${port}${path}`)).text();
      expect(seen).toContain('redis.internal:6379');
      expect(seen).not.toContain(SECRET);
    } finally {
      await server.close();
    }
  });

  it('in log lines: fields, nested fields, errors, messages and secret-named fields', () => {
    let out = '';
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger({ level: 'debug', destination });
    logger.info({ config }, 'configuration');
    logger.error({ err: new Error(`connect to ${URL_WITH_SECRET} failed`) }, 'redis down');
    logger.warn(`cannot reach ${URL_WITH_SECRET}`);
    logger.info({ password: SECRET, nested: { token: SECRET } }, 'fields named as secrets');
    expect(out).toContain('redis.internal');
    expect(out).not.toContain(SECRET);
  });

  it('in configuration errors that echo the bad value', () => {
    let message = '';
    try {
      loadConfig({ ...NODE, EC2_RATE_LIMIT_REDIS_URL: `http://eni-ipam:${SECRET}@redis.internal` });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('EC2_RATE_LIMIT_REDIS_URL');
    expect(message).not.toContain(SECRET);
  });

  describe('in errors a client receives', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'reliab-redact-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('a CNI answer for a backend that failed', async () => {
      const failing = (): Promise<never> => Promise.reject(new Error(`limiter: ${URL_WITH_SECRET} refused`));
      const backend: CniBackend = {
        add: failing,
        del: failing,
        check: failing,
        gc: failing,
        status: failing,
      };
      const server = new CniServer({ socketPath: join(dir, 'ipam.sock'), backend });
      await server.start();
      try {
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = createConnection({ path: join(dir, 'ipam.sock') });
          let text = '';
          socket.on('data', (c: Buffer) => (text += c.toString()));
          socket.on('close', () => {
            resolve(text);
          });
          socket.on('error', reject);
          socket.write('{"v":1,"op":"status","network":"n"}\n');
        });
        expect(answer).toContain('redis.internal');
        expect(answer).not.toContain(SECRET);
      } finally {
        await server.close();
      }
    });

    it('a metrics scrape that failed', async () => {
      const server = new MetricsServer(
        { contentType: 'text/plain', metrics: () => Promise.reject(new Error(`${URL_WITH_SECRET} down`)) },
        { host: '127.0.0.1', port: 0 },
      );
      const { port } = await server.start();
      try {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        expect(text).toContain('redis.internal');
        expect(text).not.toContain(SECRET);
      } finally {
        await server.close();
      }
    });
  });
});
