/**
 * The least Kubernetes API server an agent process needs to run normally: an empty pod list, a pod
 * watch that stays open with nothing to say, and an API group list without KubeVirt. The
 * benchmarks' agent process then runs its real watches (and loads @kubernetes/client-node, whose
 * cost the footprint benchmark reports) instead of retrying against a refused connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class FakeKubeApi {
  private readonly server: Server;
  private readonly watches = new Set<ServerResponse>();
  /** Watches opened so far: the first, then one per restart. */
  watchesOpened = 0;

  /**
   * @param watchLifetimeMs ends each watch after this long, as a real API server does at its
   *   watch timeout, so that the agent's watches restart (default: a watch stays open).
   */
  constructor(private readonly watchLifetimeMs?: number) {
    this.server = createServer((req, res) => {
      this.answer(req, res);
    });
  }

  /** Listens on loopback; returns the server URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** A kubeconfig (JSON, which is YAML) for this server without credentials. */
  static kubeconfigFor(server: string): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP on loopback: @kubernetes/client-node refuses an http:// server unless told so.
      clusters: [{ name: 'bench', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'agent', user: {} }],
      contexts: [{ name: 'bench', context: { cluster: 'bench', user: 'agent' } }],
      'current-context': 'bench',
    });
  }

  async close(): Promise<void> {
    for (const res of this.watches) res.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://kube');
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/api/v1/pods') {
      if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
        // An open watch with no events, as for a node without pods.
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        this.watches.add(res);
        this.watchesOpened++;
        const timer =
          this.watchLifetimeMs === undefined
            ? undefined
            : setTimeout(() => {
                res.end();
              }, this.watchLifetimeMs);
        res.on('close', () => {
          clearTimeout(timer);
          this.watches.delete(res);
        });
        return;
      }
      json(200, { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '1' }, items: [] });
      return;
    }
    if (url.pathname === '/apis') {
      json(200, { apiVersion: 'v1', kind: 'APIGroupList', groups: [] });
      return;
    }
    json(404, { apiVersion: 'v1', kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
  }
}
