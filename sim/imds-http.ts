import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readMetadata } from './imds.js';
import type { SimState } from './state.js';

const MAX_TOKEN_TTL_SECONDS = 21_600;
const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
const TOKEN_HEADER = 'x-aws-ec2-metadata-token';

interface Token {
  instanceId: string;
  expiresAt: number;
}

/**
 * IMDSv2 over HTTP for every simulated instance, on one loopback port. The instance is chosen by a
 * path prefix: `http://127.0.0.1:PORT/<instance-id>/latest/api/token` (PUT, with
 * X-aws-ec2-metadata-token-ttl-seconds: 1..21600) then `GET .../<instance-id>/latest/meta-data/...`
 * with X-aws-ec2-metadata-token. So a node's IMDS endpoint is `<url>/<instance-id>`. With a
 * `defaultInstanceId`, unprefixed paths (`<url>/latest/...`) serve that instance, for clients that
 * resolve paths against the host root. A token is valid only for the instance it was issued for;
 * IMDSv1 (no token) gets 401, as with HttpTokens=required.
 */
export class ImdsHttpServer {
  private server: Server | undefined;
  private readonly tokens = new Map<string, Token>();

  constructor(
    private readonly state: SimState,
    private readonly options: { host?: string; defaultInstanceId?: string } = {},
  ) {}

  private get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  async start(port = 0): Promise<string> {
    await this.listen((server, done) => server.listen(port, this.host, done));
    return this.url;
  }

  /** Listens on a unix socket (a relay in the emulated VPC serves it at 169.254.169.254). */
  async startOnPath(path: string): Promise<void> {
    await this.listen((server, done) => server.listen(path, done));
  }

  private async listen(how: (server: Server, done: () => void) => void): Promise<void> {
    const server = createServer((req, res) => {
      this.serve(req, res);
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
    if (!address) throw new Error('the simulated IMDS server is not listening');
    return `http://${this.host}:${address.port}`;
  }

  /** The IMDS endpoint a node running as `instanceId` should use. */
  endpointFor(instanceId: string): string {
    return `${this.url}/${instanceId}`;
  }

  async close(): Promise<void> {
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

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://imds');
    const prefixed = /^\/([^/]+)\/latest\/(.*)$/.exec(url.pathname);
    const unprefixed = /^\/latest\/(.*)$/.exec(url.pathname);
    const target = unprefixed
      ? { instanceId: this.options.defaultInstanceId, rest: unprefixed[1] ?? '' }
      : { instanceId: prefixed?.[1], rest: prefixed?.[2] ?? '' };
    const instance =
      target.instanceId === undefined ? undefined : this.state.currentInstance(target.instanceId);
    if (!instance || instance.state !== 'running') {
      res.writeHead(404).end();
      return;
    }
    const instanceId = instance.instanceId;
    const rest = target.rest;
    if (rest === 'api/token') {
      this.issueToken(req, res, instanceId);
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    const token = this.tokens.get(String(req.headers[TOKEN_HEADER] ?? ''));
    if (!token || token.instanceId !== instanceId || token.expiresAt <= this.state.now()) {
      res.writeHead(401).end();
      return;
    }
    if (!rest.startsWith('meta-data/')) {
      res.writeHead(404).end();
      return;
    }
    const value = readMetadata(this.state, instanceId, rest.slice('meta-data/'.length));
    if (value === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(value);
  }

  private issueToken(req: IncomingMessage, res: ServerResponse, instanceId: string): void {
    if (req.method !== 'PUT') {
      res.writeHead(405).end();
      return;
    }
    const ttl = Number(req.headers[TOKEN_TTL_HEADER]);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) {
      res.writeHead(400).end();
      return;
    }
    const now = this.state.now();
    for (const [value, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(value);
    const value = randomBytes(32).toString('base64');
    this.tokens.set(value, { instanceId, expiresAt: now + ttl * 1000 });
    res.writeHead(200, { 'content-type': 'text/plain', [TOKEN_TTL_HEADER]: String(ttl) }).end(value);
  }
}
