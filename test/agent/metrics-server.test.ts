import { afterEach, describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import { DEFAULT_METRICS_BIND, MetricsServer } from '../../agent/metrics/metrics-server.js';

const snapshot = { maxEnis: 3, maxIps: 27, maxPods: 29, enis: [], waitingAdds: 0, subnets: [] };

describe('MetricsServer', () => {
  const servers: MetricsServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers.length = 0;
  });

  async function serve(source: { snapshot: () => typeof snapshot }, onError?: (err: unknown) => void) {
    const server = new MetricsServer(new AgentMetrics(source), { host: '127.0.0.1', port: 0 }, onError);
    servers.push(server);
    const { port } = await server.start();
    return `http://127.0.0.1:${port}`;
  }

  it('defaults to the AWS VPC CNI port on every interface', () => {
    expect(DEFAULT_METRICS_BIND).toEqual({ host: undefined, port: 61678 });
  });

  it('serves the exposition text on GET /metrics', async () => {
    const base = await serve({ snapshot: () => snapshot });
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await response.text();
    expect(text).toContain('awscni_eni_max 3\n');
    expect(text).toContain('awscni_ip_max 27\n');
  });

  it('answers 404 elsewhere and 405 to other methods', async () => {
    const base = await serve({ snapshot: () => snapshot });
    expect((await fetch(`${base}/`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 500 when the source throws, and keeps serving', async () => {
    let broken = true;
    const errors: unknown[] = [];
    const base = await serve(
      {
        snapshot: () => {
          if (broken) throw new Error('datastore busy');
          return snapshot;
        },
      },
      (err) => errors.push(err),
    );
    const failed = await fetch(`${base}/metrics`);
    expect(failed.status).toBe(500);
    expect(await failed.text()).toContain('datastore busy');
    expect(errors).toHaveLength(1);
    broken = false;
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it('refuses a port already taken, naming the address', async () => {
    const base = await serve({ snapshot: () => snapshot });
    const port = Number(new URL(base).port);
    const second = new MetricsServer(new AgentMetrics({ snapshot: () => snapshot }), {
      host: '127.0.0.1',
      port,
    });
    await expect(second.start()).rejects.toThrow(`cannot listen on 127.0.0.1:${port}`);
  });

  it('closes: the port is released', async () => {
    const server = new MetricsServer(new AgentMetrics({ snapshot: () => snapshot }), {
      host: '127.0.0.1',
      port: 0,
    });
    const { port } = await server.start();
    await fetch(`http://127.0.0.1:${port}/metrics`);
    await server.close();
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    await server.close(); // a second close is harmless
  });
});
