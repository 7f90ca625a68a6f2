import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpListener, requestPath, type BindAddress } from '../introspection/http-listener.js';
import { redactText } from '../redact.js';

/** The AWS VPC CNI's metrics port, on every interface, so existing scrape configs keep working. */
export const DEFAULT_METRICS_BIND: BindAddress = { host: undefined, port: 61678 };

/** What the server needs from the metrics: the exposition text and its content type. */
export interface MetricsExposition {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** Serves `GET /metrics` for Prometheus. start()/close() as HttpListener. */
export class MetricsServer {
  private readonly listener: HttpListener;

  constructor(
    private readonly exposition: MetricsExposition,
    bind: BindAddress = DEFAULT_METRICS_BIND,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.listener = new HttpListener(bind, (req, res) => this.handle(req, res), onError);
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = requestPath(req.url);
    if (path === undefined) {
      sendText(res, 400, 'bad request: unreadable request target\n');
      return;
    }
    if (path !== '/metrics') {
      sendText(res, 404, 'not found: metrics are served on /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, 'method not allowed: use GET\n', { allow: 'GET, HEAD' });
      return;
    }
    try {
      const body = await this.exposition.metrics();
      res.writeHead(200, {
        'content-type': this.exposition.contentType,
        'content-length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      // A source that throws must cost one scrape, never the process.
      this.onError(err);
      sendText(
        res,
        500,
        redactText(`metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`),
      );
    }
  }
}

function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(text);
}
