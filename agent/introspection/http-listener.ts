import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { BindAddress } from '../config-schema.js';

export type { BindAddress };

/** "host:port", ":port" for every interface, "[v6]:port": the form config-schema's parseBindAddress reads. */
export function formatBindAddress(address: BindAddress): string {
  const host = address.host ?? '';
  return `${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/** A handler may answer synchronously or return a promise; either way a failure costs one answer. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * The request's path, or undefined when the request target is not one we can read. The target
 * is whatever the client wrote on its request line: `//x:99999` or `//[` make `new URL(target,
 * base)` throw (they read as a host and a port), so the path is taken before any URL parsing.
 */
export function requestPath(target: string | undefined): string | undefined {
  const raw = target ?? '/';
  if (!raw.startsWith('/')) {
    // The absolute form a proxy sends ("http://host/metrics").
    try {
      return /^https?:\/\//i.test(raw) ? new URL(raw).pathname : undefined;
    } catch {
      return undefined;
    }
  }
  const end = raw.search(/[?#]/);
  return end === -1 ? raw : raw.slice(0, end);
}

/**
 * A node:http server with an explicit lifecycle: the constructor does no I/O, `start()` listens
 * (and rejects if the port is taken), `close()` stops accepting, drops idle keep-alive connections
 * and resolves when in-flight requests are answered.
 */
export class HttpListener {
  private server: Server | undefined;
  /** Open sockets and how many requests each has in flight. */
  private readonly active = new Map<Socket, number>();
  private closing = false;

  constructor(
    private readonly bind: BindAddress,
    private readonly handler: RequestHandler,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  async start(): Promise<BindAddress> {
    if (this.server) throw new Error('already started');
    this.closing = false;
    const server = createServer((req, res) => {
      this.track(req, res);
      this.serve(req, res);
    });
    // Bytes that are not HTTP: answer 400 and close, as node does without a listener, but never
    // let a socket error of one client reach the process.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    });
    // Scrapers and `eni-ipam status` send small GETs; a slow client must not hold a socket forever.
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    server.on('connection', (socket) => {
      this.active.set(socket, 0);
      socket.once('close', () => this.active.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new Error(`cannot listen on ${formatBindAddress(this.bind)}: ${err.message}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen({ host: this.bind.host, port: this.bind.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    return this.address() ?? this.bind;
  }

  /** The address actually bound (the real port when started on port 0). */
  address(): BindAddress | undefined {
    const info = this.server?.address();
    if (info === undefined || info === null || typeof info === 'string') return undefined;
    return { host: info.address, port: info.port };
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.closing = true;
    const closed = new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    // server.close() waits for every open socket, and keep-alive clients (fetch pools them) or a
    // connection that never sent a request would hold it open. Sockets with no request in flight
    // go now; the others go as soon as their answer is written.
    for (const [socket, requests] of this.active) if (requests === 0) socket.destroy();
    await closed;
  }

  /** Runs the handler so that nothing it throws or rejects can end or wedge the process. */
  private serve(req: IncomingMessage, res: ServerResponse): void {
    const fail = (err: unknown): void => {
      this.onError(err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      try {
        sendJson(res, 500, { error: 'internal error' });
      } catch {
        res.destroy();
      }
    };
    try {
      const done = this.handler(req, res);
      if (done instanceof Promise) done.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  private track(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    this.active.set(socket, (this.active.get(socket) ?? 0) + 1);
    if (this.closing) res.setHeader('connection', 'close');
    res.once('finish', () => {
      const current = this.active.get(socket);
      if (current === undefined) return; // the socket is already gone
      const left = current - 1;
      this.active.set(socket, left);
      if (this.closing && left === 0) socket.destroySoon();
    });
  }
}

/** Answers bigger than a scrape take well under this; it only bounds a stuck client. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Writes a JSON answer; every endpoint of ours answers JSON, errors included. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}
