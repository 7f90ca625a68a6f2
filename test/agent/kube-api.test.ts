import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeApiError } from '../../agent/errors.js';
import { KubeApi } from '../../agent/kube/kube-api.js';
import { kubeConfigForServer } from '../../agent/kube/kubeconfig.js';
import { FakeApiServer, pod } from './kube-fake-api-server.js';

const PODS = '/api/v1/pods';
const EVENTS = '/api/v1/namespaces/default/events';

let server: FakeApiServer;
let api: KubeApi;

beforeEach(async () => {
  server = new FakeApiServer();
  server.collection(PODS, 'PodList');
  server.collection(EVENTS, 'EventList');
  await server.start();
  api = new KubeApi(kubeConfigForServer(server.url));
});

afterEach(async () => {
  await server.stop();
});

describe('KubeApi: the agent requests over the KubeConfig', () => {
  it('lists with the query it is given and returns the JSON as the API server sent it', async () => {
    server.add(PODS, pod('a', 'n1'));
    server.add(PODS, pod('b', 'n2'));
    const list = await api.listPodForAllNamespaces({
      fieldSelector: 'spec.nodeName=n1',
      resourceVersion: '0',
    });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['a']);
    expect(list.metadata?.resourceVersion).toMatch(/^[0-9]+$/);
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'GET', path: PODS, watch: false });
    expect(request?.query.get('fieldSelector')).toBe('spec.nodeName=n1');
    expect(request?.query.get('resourceVersion')).toBe('0');
  });

  it('sends a JSON body with its content type, and a JSON patch as one', async () => {
    /* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
       client-node's V1* models are data-only classes and its API is meant to take plain objects. */
    await api.createNamespacedEvent({
      namespace: 'default',
      body: { metadata: { name: 'e1' }, involvedObject: {}, firstTimestamp: new Date(Date.UTC(2026, 0, 2)) },
    });
    /* eslint-enable @typescript-eslint/no-unsafe-class-instance-assignment */
    await api.patchNamespacedEvent({
      name: 'e1',
      namespace: 'default',
      body: [{ op: 'replace', path: '/count', value: 2 }],
    });
    expect(server.bodies).toEqual([
      {
        method: 'POST',
        path: EVENTS,
        contentType: 'application/json',
        body: { metadata: { name: 'e1' }, involvedObject: {}, firstTimestamp: '2026-01-02T00:00:00.000Z' },
      },
      {
        method: 'PATCH',
        path: `${EVENTS}/e1`,
        contentType: 'application/json-patch+json',
        body: [{ op: 'replace', path: '/count', value: 2 }],
      },
    ]);
  });

  it('rejects an error status with a KubeApiError naming the request, the status and why', async () => {
    const err: unknown = await api.readNode({ name: 'ghost' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({
      code: 'ERR_KUBE_API',
      status: 404,
      method: 'GET',
      path: '/api/v1/nodes/ghost',
    });
    expect((err as Error).message).toBe(
      'Kubernetes API GET /api/v1/nodes/ghost: HTTP 404: /api/v1/nodes/ghost not found',
    );
  });

  it('puts names into the path encoded, never as path syntax', async () => {
    await api.readNode({ name: '../namespaces' }).catch(() => undefined);
    expect(server.requests.at(-1)?.path).toBe('/api/v1/nodes/..%2Fnamespaces');
  });

  it('rejects an unreachable server with the connection error', async () => {
    const url = server.url;
    await server.stop();
    await expect(new KubeApi(kubeConfigForServer(url)).getAPIVersions()).rejects.toThrow(/ECONNREFUSED/);
    server = new FakeApiServer();
    await server.start();
  });
});
