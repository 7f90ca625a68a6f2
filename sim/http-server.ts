import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAbortError } from '../time/clock.js';
import type { Ec2Endpoint } from './ec2-endpoint.js';

/**
 * The simulated EC2 endpoint over HTTP on loopback, for wire-level tests and `npm start`: point the
 * SDK at it with `endpoint: server.url`. A timed-out request (fault injection) is answered by
 * destroying the socket after `faults.timeoutMs`, which the SDK sees as a connection reset.
 */
export class Ec2HttpServer {
  private server: Server | undefined;
  private readonly stopping = new AbortController();

  constructor(
    private readonly endpoint: Ec2Endpoint,
    private readonly host = '127.0.0.1',
  ) {}

  /** Listens on `port` (0: any free port) and resolves to the endpoint URL. */
  async start(port = 0): Promise<string> {
    await this.listen((server, done) => server.listen(port, this.host, done));
    return this.url;
  }

  /**
   * Listens on a unix socket instead: a relay in another network namespace (the emulated VPC of the
   * datapath tests) serves it at an address of that namespace.
   */
  async startOnPath(path: string): Promise<void> {
    await this.listen((server, done) => server.listen(path, done));
  }

  private async listen(how: (server: Server, done: () => void) => void): Promise<void> {
    const server = createServer((req, res) => {
      this.serve(req, res).catch((err: unknown) => {
        if (!res.headersSent && !isAbortError(err)) res.writeHead(500).end(String(err));
        else res.destroy();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      how(server, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('the simulated EC2 server is not listening');
    return `http://${this.host}:${address.port}`;
  }

  /** Stops accepting, aborts requests waiting on their latency and closes open connections. */
  async close(): Promise<void> {
    this.stopping.abort();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const outcome = await this.endpoint.handle(Buffer.concat(chunks).toString('utf8'), this.stopping.signal);
    if (outcome.kind === 'timeout') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(outcome.httpStatus, {
      'content-type': 'text/xml;charset=UTF-8',
      'x-amzn-requestid': outcome.requestId,
    });
    res.end(outcome.body);
  }
}
