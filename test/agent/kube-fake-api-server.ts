/**
 * A tiny Kubernetes API server for the watch tests: list and watch (`?watch=true`, one JSON event
 * per line, chunked) of a few collections, resourceVersions with an event log a watch resumes
 * from, 410 Gone for a compacted version, field selectors on spec.nodeName, GETs of single
 * objects, creates (POST) and JSON-patch replaces (PATCH), the API group list, and injectable faults (an error status, a hung request, a closed
 * stream). It records every request so tests can check what the client sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  watch: boolean;
}

interface Collection {
  listKind: string;
  objects: Map<string, KubeObject>;
}

interface LoggedEvent {
  rv: number;
  collection: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

interface OpenWatch {
  collection: string;
  fieldSelector: string | null;
  res: ServerResponse;
}

type Fault = { kind: 'status'; status: number } | { kind: 'hang' };

function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

/** Only `spec.nodeName=<x>` is understood; anything else matches everything. */
function matches(obj: KubeObject, fieldSelector: string | null): boolean {
  if (!fieldSelector) return true;
  const m = /^spec\.nodeName=(.*)$/.exec(fieldSelector);
  if (!m) return true;
  const spec = obj.spec as { nodeName?: string } | undefined;
  return spec?.nodeName === m[1];
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  /** Bodies of POST and PATCH requests, in order. */
  readonly bodies: { method: string; path: string; contentType: string | undefined; body: unknown }[] = [];
  /** Answer of GET /apis. */
  apiGroups: { name: string; versions: string[] }[] = [];
  private readonly server: Server;
  private readonly collections = new Map<string, Collection>();
  private readonly singles = new Map<string, KubeObject>();
  private readonly log: LoggedEvent[] = [];
  private readonly watches = new Set<OpenWatch>();
  private readonly faults = new Map<string, Fault[]>();
  private readonly hung = new Set<ServerResponse>();
  private rv = 100;
  private compactedBelow = 0;
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const w of this.watches) w.res.destroy();
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }

  /** Declares a collection served at `path` (e.g. /api/v1/pods). */
  collection(path: string, listKind: string): void {
    this.collections.set(path, { listKind, objects: new Map() });
  }

  /** An object served by GET at `path` (e.g. /api/v1/nodes/n1). */
  setObject(path: string, obj: KubeObject): void {
    this.singles.set(path, obj);
  }

  add(path: string, obj: KubeObject): void {
    this.change(path, 'ADDED', obj);
  }

  modify(path: string, obj: KubeObject): void {
    this.change(path, 'MODIFIED', obj);
  }

  remove(path: string, obj: KubeObject): void {
    this.change(path, 'DELETED', obj);
  }

  /** Deletes without any watch event, as if the event were lost: only a relist shows it. */
  removeQuietly(path: string, obj: KubeObject): void {
    this.rv++;
    this.collections.get(path)?.objects.delete(keyOf(obj));
  }

  /** The next `times` requests to `path` (list or watch, as `watch` says) fail or hang. */
  fault(path: string, watch: boolean, fault: Fault, times = 1): void {
    const key = `${watch ? 'watch' : 'list'} ${path}`;
    const queue = this.faults.get(key) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.faults.set(key, queue);
  }

  /** Ends every open watch stream normally, as the server does at its timeout. */
  closeWatches(): void {
    for (const w of this.watches) w.res.end();
    this.watches.clear();
  }

  /** Forgets history: watches from older versions get 410 Gone; open ones get it now and end. */
  compact(): void {
    this.compactedBelow = this.rv;
    for (const w of this.watches) {
      w.res.end(
        `${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') })}\n`,
      );
    }
    this.watches.clear();
  }

  /** Sends a bookmark on every open watch. */
  bookmark(): void {
    for (const w of this.watches) {
      const object = { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } };
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
    }
  }

  openWatches(): number {
    return this.watches.size;
  }

  lists(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path && !r.watch);
  }

  watchRequests(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path && r.watch);
  }

  private change(path: string, type: LoggedEvent['type'], obj: KubeObject): void {
    const coll = this.collections.get(path);
    if (!coll) throw new Error(`no collection ${path}`);
    this.rv++;
    const stored: KubeObject = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.rv) } };
    if (type === 'DELETED') coll.objects.delete(keyOf(stored));
    else coll.objects.set(keyOf(stored), stored);
    const event: LoggedEvent = { rv: this.rv, collection: path, type, object: stored };
    this.log.push(event);
    for (const w of this.watches) {
      if (w.collection === path && matches(stored, w.fieldSelector))
        w.res.write(`${JSON.stringify({ type, object: stored })}\n`);
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const watch = url.searchParams.get('watch') === 'true';
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, watch });
    const fault = this.faults.get(`${watch ? 'watch' : 'list'} ${url.pathname}`)?.shift();
    if (fault?.kind === 'hang') {
      this.hung.add(res);
      return;
    }
    if (fault?.kind === 'status') {
      this.json(res, fault.status, status(fault.status, 'InternalError', 'injected fault'));
      return;
    }
    if (url.pathname === '/apis') {
      this.json(res, 200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: this.apiGroups.map((g) => ({
          name: g.name,
          versions: g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v })),
          preferredVersion: {
            groupVersion: `${g.name}/${g.versions[0] ?? ''}`,
            version: g.versions[0] ?? '',
          },
        })),
      });
      return;
    }
    if (req.method === 'POST' || req.method === 'PATCH') {
      this.write(req, res, url.pathname);
      return;
    }
    const single = this.singles.get(url.pathname);
    if (single) {
      this.json(res, 200, single);
      return;
    }
    const coll = this.collections.get(url.pathname);
    if (!coll) {
      this.json(res, 404, status(404, 'NotFound', `${url.pathname} not found`));
      return;
    }
    const selector = url.searchParams.get('fieldSelector');
    if (!watch) {
      const items = [...coll.objects.values()].filter((o) => matches(o, selector));
      this.json(res, 200, {
        kind: coll.listKind,
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.rv) },
        items,
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    if (from < this.compactedBelow) {
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') })}\n`,
      );
      return;
    }
    // Resume where the client left off, as the watch cache does.
    for (const e of this.log) {
      if (e.collection === url.pathname && e.rv > from && matches(e.object, selector)) {
        res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
    }
    const open: OpenWatch = { collection: url.pathname, fieldSelector: selector, res };
    this.watches.add(open);
    res.on('close', () => this.watches.delete(open));
  }

  /** Objects of a collection as stored (tests check what the client wrote). */
  objects(path: string): KubeObject[] {
    return [...(this.collections.get(path)?.objects.values() ?? [])];
  }

  /** POST to a collection creates; PATCH of `<collection>/<name>` applies a JSON patch of replaces. */
  private write(req: IncomingMessage, res: ServerResponse, path: string): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      this.bodies.push({ method: req.method ?? '', path, contentType: req.headers['content-type'], body });
      if (req.method === 'POST') {
        const obj = body as KubeObject;
        if (this.collections.get(path)?.objects.has(keyOf(obj))) {
          this.json(res, 409, status(409, 'AlreadyExists', `${obj.metadata.name} already exists`));
          return;
        }
        this.add(path, obj);
        this.json(res, 201, this.collections.get(path)?.objects.get(keyOf(obj)));
        return;
      }
      const slash = path.lastIndexOf('/');
      const collection = path.slice(0, slash);
      const name = path.slice(slash + 1);
      const current = [...(this.collections.get(collection)?.objects.values() ?? [])].find(
        (o) => o.metadata.name === name,
      );
      if (!current) {
        this.json(res, 404, status(404, 'NotFound', `${path} not found`));
        return;
      }
      const patched: KubeObject = { ...current };
      for (const op of body as { op: string; path: string; value: unknown }[]) {
        if (op.op !== 'replace') throw new Error(`the fake applies replace only, not ${op.op}`);
        patched[op.path.slice(1)] = op.value;
      }
      this.modify(collection, patched);
      this.json(res, 200, this.collections.get(collection)?.objects.get(keyOf(patched)));
    });
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}

export function pod(name: string, nodeName: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, ...extra },
    spec: { nodeName, containers: [{ name: 'c', image: 'i' }] },
    status: { phase: 'Running' },
  };
}
