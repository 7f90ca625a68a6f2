import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpListener, requestPath, sendJson, type BindAddress } from './http-listener.js';
import type { IntrospectionSource } from './introspection-source.js';
import { redactSecrets } from '../redact.js';
import { eniReport, liveness, planState, readiness } from './views.js';

/**
 * The AWS VPC CNI's introspection address: loopback only, because it lists every pod of the node
 * and the node's configuration. INTROSPECTION_BIND_ADDRESS changes it.
 */
export const DEFAULT_INTROSPECTION_BIND: BindAddress = { host: '127.0.0.1', port: 61679 };

interface Answer {
  status: number;
  body: unknown;
}

type Route = (source: IntrospectionSource) => Answer;

const ok = (body: unknown): Answer => ({ status: 200, body });

const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/v1/enis', (s) => ok({ enis: s.enis().map(eniReport) })],
  ['/v1/pods', (s) => ok({ pods: s.pods() })],
  ['/v1/subnets', (s) => ok({ subnets: s.subnets() })],
  ['/v1/config', (s) => ok(s.config())],
  ['/v1/state', (s) => ok(planState(s))],
  ['/v1/cni-requests', (s) => ok({ requests: s.cniRequests?.() ?? [] })],
  // Alive means the agent can serve CNI calls: its socket, its state directory and its checkpoint
  // writes work; the answer is kept by a periodic check, so a hung disk cannot hang the probe.
  [
    '/healthz',
    (s) => {
      const answer = liveness(s);
      return answer.alive
        ? ok({ status: 'ok', reason: answer.reason })
        : { status: 503, body: { status: 'failing', reason: answer.reason } };
    },
  ],
  [
    '/readyz',
    (s) => {
      const answer = readiness(s.readiness());
      return { status: answer.ready ? 200 : 503, body: answer };
    },
  ],
]);

/** The paths served, for the 404 answer and the docs. */
export const INTROSPECTION_PATHS: readonly string[] = [...ROUTES.keys()];

/** JSON introspection of the agent over node:http: GET only, JSON answers, errors included. */
export class IntrospectionServer {
  private readonly listener: HttpListener;

  constructor(
    private readonly source: IntrospectionSource,
    bind: BindAddress = DEFAULT_INTROSPECTION_BIND,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.listener = new HttpListener(
      bind,
      (req, res) => {
        this.handle(req, res);
      },
      onError,
    );
  }

  start(): Promise<BindAddress> {
    return this.listener.start();
  }

  address(): BindAddress | undefined {
    return this.listener.address();
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const target = requestPath(req.url);
    if (target === undefined) {
      sendJson(res, 400, { error: 'bad request: unreadable request target', paths: INTROSPECTION_PATHS });
      return;
    }
    const path = target.replace(/\/+$/, '') || '/';
    const route = ROUTES.get(path);
    if (!route) {
      sendJson(res, 404, { error: `not found: ${path}`, paths: INTROSPECTION_PATHS });
      return;
    }
    if (req.method !== 'GET') {
      sendJson(res, 405, { error: `method not allowed: ${req.method ?? ''}; use GET` }, { allow: 'GET' });
      return;
    }
    let answer: Answer;
    try {
      answer = route(this.source);
    } catch (err) {
      // The source reads live agent state; a bug there costs one answer, never the process.
      this.onError(err);
      sendJson(
        res,
        500,
        redactSecrets({ error: `internal error: ${err instanceof Error ? err.message : String(err)}` }),
      );
      return;
    }
    // Every answer, not only /v1/config: no credential of the agent's is served.
    sendJson(res, answer.status, redactSecrets(answer.body));
  }
}
