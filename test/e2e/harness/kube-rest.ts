/**
 * Raw REST calls to the test kube-apiserver, for what must reach it byte for byte: manifests as
 * they are written in deploy/. client-node's KubernetesObjectApi serializes through its typed
 * models, which drop every field they do not know (a misspelt key, `x-kubernetes-*` schema
 * extensions), so a dry run through it would validate a different object than the file.
 */
import { request } from 'node:https';
import type { KubeApiServer, KubeUser } from '../../peers/kube.js';

/** A request the API server does not answer within this is a hung server, not a slow one. */
const REQUEST_TIMEOUT_MS = 30_000;
export const E2E_FIELD_MANAGER = 'eni-ipam-e2e';

export interface RestAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

export class KubeRest {
  /** "<apiVersion>/<kind>" -> resource, from discovery; filled lazily, cleared when a kind is missing. */
  private readonly resources = new Map<string, ApiResource>();

  constructor(
    private readonly server: Pick<KubeApiServer, 'url' | 'caCertificate'>,
    private readonly token: string,
  ) {}

  static admin(server: KubeApiServer): KubeRest {
    return new KubeRest(server, server.token);
  }

  static as(server: KubeApiServer, user: KubeUser): KubeRest {
    return new KubeRest(server, user.token);
  }

  call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<RestAnswer> {
    const url = new URL(path, this.server.url);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ca: this.server.caCertificate,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // Not JSON (e.g. a plain-text 404 from a non-API path): keep the text.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, text });
          });
          res.on('error', reject);
        },
      );
      req.once('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.once('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** The REST path of an object (collection path when `named` is false), from API discovery. */
  async pathOf(object: ManifestObject, named = true): Promise<string> {
    const resource = await this.resourceOf(object.apiVersion, object.kind);
    const base = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
    const namespace = object.metadata.namespace ?? 'default';
    const collection = resource.namespaced
      ? `${base}/namespaces/${encodeURIComponent(namespace)}/${resource.name}`
      : `${base}/${resource.name}`;
    return named ? `${collection}/${encodeURIComponent(object.metadata.name)}` : collection;
  }

  /**
   * Server-side apply, as `kubectl apply --server-side --force-conflicts [--dry-run=server]`, with
   * strict field validation so that an unknown or duplicated field is an error rather than dropped.
   */
  async apply(object: ManifestObject, options: { dryRun: boolean }): Promise<RestAnswer> {
    const query = new URLSearchParams({
      fieldManager: E2E_FIELD_MANAGER,
      force: 'true',
      fieldValidation: 'Strict',
    });
    if (options.dryRun) query.set('dryRun', 'All');
    return this.call(
      'PATCH',
      `${await this.pathOf(object)}?${query.toString()}`,
      object,
      'application/apply-patch+yaml',
    );
  }

  private async resourceOf(apiVersion: string, kind: string): Promise<ApiResource> {
    const key = `${apiVersion}/${kind}`;
    const known = this.resources.get(key);
    if (known) return known;
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const answer = await this.call('GET', path);
    if (answer.status !== 200)
      throw new Error(`discovery of ${apiVersion} answered ${answer.status}: ${answer.text}`);
    const list = (answer.body as { resources?: ApiResource[] }).resources ?? [];
    for (const r of list) if (!r.name.includes('/')) this.resources.set(`${apiVersion}/${r.kind}`, r);
    const found = this.resources.get(key);
    if (!found) throw new Error(`the API server serves no kind ${kind} in ${apiVersion}`);
    return found;
  }
}
