/**
 * The Kubernetes API requests the agent makes, as plain HTTP requests with the KubeConfig's own
 * connection settings (server, TLS, credentials, proxy: KubeConfig.applyToHTTPSOptions, as
 * client-node's Watch uses them).
 *
 * Why not client-node's generated API classes (CoreV1Api, CustomObjectsApi, ...): each one loads
 * the generated ObjectSerializer, whose model map holds a class for every Kubernetes type, and the
 * request classes of every API group; together about 3 MB of code and as much heap, resident on
 * every node, for ten requests. The methods here have the names and parameters of the generated
 * ones they replace, so deploy/rbac.yaml's test can still match each call to its permission.
 *
 * Objects come back as the API server's JSON, as they arrive on a watch: timestamps are strings.
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type {
  CoreV1Event,
  V1APIGroupList,
  V1Lease,
  V1LeaseList,
  V1NamespaceList,
  V1Node,
  V1PodList,
} from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { KubeApiError } from '../errors.js';

type Query = Readonly<Record<string, string | undefined>>;

/** A JSON patch operation (RFC 6902), as patchNamespacedEvent sends them. */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
}

/** The longest error body quoted in a KubeApiError's message. */
const QUOTED_BODY_CHARS = 300;

export class KubeApi {
  constructor(private readonly kubeConfig: KubeConfig) {}

  readNode(params: { name: string }): Promise<V1Node> {
    return this.send('GET', `/api/v1/nodes/${seg(params.name)}`);
  }

  listPodForAllNamespaces(params: { fieldSelector?: string; resourceVersion?: string }): Promise<V1PodList> {
    return this.send('GET', '/api/v1/pods', {
      fieldSelector: params.fieldSelector,
      resourceVersion: params.resourceVersion,
    });
  }

  listNamespace(params: { resourceVersion?: string }): Promise<V1NamespaceList> {
    return this.send('GET', '/api/v1/namespaces', { resourceVersion: params.resourceVersion });
  }

  createNamespacedEvent(params: { namespace: string; body: CoreV1Event }): Promise<CoreV1Event> {
    return this.send(
      'POST',
      `/api/v1/namespaces/${seg(params.namespace)}/events`,
      {},
      {
        body: params.body,
        contentType: 'application/json',
      },
    );
  }

  patchNamespacedEvent(params: {
    name: string;
    namespace: string;
    body: readonly JsonPatchOperation[];
  }): Promise<CoreV1Event> {
    return this.send(
      'PATCH',
      `/api/v1/namespaces/${seg(params.namespace)}/events/${seg(params.name)}`,
      {},
      {
        body: params.body,
        contentType: 'application/json-patch+json',
      },
    );
  }

  getClusterCustomObject(params: {
    group: string;
    version: string;
    plural: string;
    name: string;
  }): Promise<unknown> {
    const { group, version, plural, name } = params;
    return this.send('GET', `/apis/${seg(group)}/${seg(version)}/${seg(plural)}/${seg(name)}`);
  }

  listClusterCustomObject(params: { group: string; version: string; plural: string }): Promise<unknown> {
    const { group, version, plural } = params;
    return this.send('GET', `/apis/${seg(group)}/${seg(version)}/${seg(plural)}`);
  }

  getAPIVersions(): Promise<V1APIGroupList> {
    return this.send('GET', '/apis');
  }

  listNamespacedLease(params: {
    namespace: string;
    resourceVersion?: string;
    labelSelector?: string;
  }): Promise<V1LeaseList> {
    return this.send('GET', `/apis/coordination.k8s.io/v1/namespaces/${seg(params.namespace)}/leases`, {
      resourceVersion: params.resourceVersion,
      labelSelector: params.labelSelector,
    });
  }

  createNamespacedLease(params: { namespace: string; body: V1Lease }): Promise<V1Lease> {
    return this.send(
      'POST',
      `/apis/coordination.k8s.io/v1/namespaces/${seg(params.namespace)}/leases`,
      {},
      { body: params.body, contentType: 'application/json' },
    );
  }

  /** One request; resolves with the decoded JSON of a 2xx answer, else rejects with KubeApiError. */
  private async send<T>(
    method: string,
    path: string,
    query: Query = {},
    payload?: { body: unknown; contentType: string },
  ): Promise<T> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    // Appended, not resolved: a server URL may carry a path prefix (an API proxy), as Watch does.
    const url = new URL(cluster.server + path);
    for (const [key, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(key, value);
    const options: RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(options);
    const body = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload.body));
    options.method = method;
    options.headers = {
      ...headersIn(options),
      accept: 'application/json',
      ...(payload && body ? { 'content-type': payload.contentType, 'content-length': body.length } : {}),
    };
    const res = await exchange(url, options, body);
    const text = res.body.toString('utf8');
    if (res.status < 200 || res.status > 299) {
      throw new KubeApiError(method, path, res.status, reasonIn(text));
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new KubeApiError(method, path, res.status, `the answer is not JSON: ${quote(text)}`);
    }
  }
}

/** The headers the KubeConfig set (credentials, impersonation): it sets them as an object. */
function headersIn(options: RequestOptions): OutgoingHttpHeaders {
  const { headers } = options;
  if (headers === undefined) return {};
  if (Array.isArray(headers)) throw new Error('the KubeConfig set request headers as a list');
  return { ...(headers as OutgoingHttpHeaders) };
}

/** A path segment: names come from configuration and the API server, never raw into a path. */
function seg(value: string): string {
  return encodeURIComponent(value);
}

function exchange(
  url: URL,
  options: RequestOptions,
  body: Buffer | undefined,
): Promise<{ status: number; body: Buffer }> {
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The message of a Status object (how the API server explains a refusal), else the body itself. */
function reasonIn(text: string): string {
  try {
    const status = JSON.parse(text) as { kind?: unknown; message?: unknown };
    if (status.kind === 'Status' && typeof status.message === 'string') return status.message;
  } catch {
    // Not JSON: quoted below.
  }
  return quote(text);
}

function quote(text: string): string {
  return JSON.stringify(text.length > QUOTED_BODY_CHARS ? `${text.slice(0, QUOTED_BODY_CHARS)}...` : text);
}
