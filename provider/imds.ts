import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { abortError, type Clock } from '../time/clock.js';
import { sleepBackoff, type BackoffPolicy, type RandomSource } from './backoff.js';
import type { MetadataSource } from './metadata.js';
import { ImdsError } from './errors.js';

/** The link-local address of EC2's instance metadata service. */
export const IMDS_DEFAULT_ENDPOINT = 'http://169.254.169.254';
/** Six hours, IMDSv2's maximum: one token PUT per six hours is plenty. */
export const IMDS_TOKEN_TTL_SECONDS = 21_600;
/** Refresh a minute early so a token never expires between our check and IMDS's. */
const TOKEN_REFRESH_MARGIN_MS = 60_000;
/** IMDS answers in milliseconds; a second without an answer means a hop limit or network problem. */
const IMDS_TIMEOUT_MS = 2_000;
const IMDS_ATTEMPTS = 3;
const IMDS_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 1_000 };

export interface ImdsOptions {
  clock: Clock;
  random: RandomSource;
  /** Base URL, e.g. the simulator's; defaults to the real service. */
  endpoint?: string;
  tokenTtlSeconds?: number;
  timeoutMs?: number;
}

/**
 * IMDSv2: PUT /latest/api/token with a TTL header, then GETs under /latest/meta-data/ with the
 * token. The token is reused until shortly before it expires, and fetched again when IMDS answers
 * 401 (it restarted, or the instance was stopped and started). 404 is an answer (undefined);
 * network errors and 5xx are retried a few times with backoff.
 *
 * Requests go out with node:http, as the AWS SDK's own do: Node's global fetch would load undici
 * and compile its WebAssembly HTTP parser, about 7 MB of resident memory for the agent's life,
 * for a few requests at start-up.
 */
export class ImdsV2Source implements MetadataSource {
  private readonly endpoint: string;
  private readonly ttlSeconds: number;
  private readonly timeoutMs: number;
  private token: { value: string; refreshAt: number } | undefined;

  constructor(private readonly options: ImdsOptions) {
    this.endpoint = (options.endpoint ?? IMDS_DEFAULT_ENDPOINT).replace(/\/+$/, '');
    this.ttlSeconds = options.tokenTtlSeconds ?? IMDS_TOKEN_TTL_SECONDS;
    this.timeoutMs = options.timeoutMs ?? IMDS_TIMEOUT_MS;
  }

  async get(path: string, signal?: AbortSignal): Promise<string | undefined> {
    const url = `${this.endpoint}/latest/meta-data/${path.replace(/^\/+/, '')}`;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.getOnce(url, signal);
      } catch (err) {
        if (signal?.aborted || attempt + 1 >= IMDS_ATTEMPTS || !retryable(err)) throw err;
        await sleepBackoff(this.options.clock, attempt, IMDS_BACKOFF, this.options.random, signal);
      }
    }
  }

  private async getOnce(url: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    let response = await this.request(
      'GET',
      url,
      { 'x-aws-ec2-metadata-token': await this.currentToken(signal) },
      signal,
    );
    if (response.status === 401) {
      this.token = undefined;
      response = await this.request(
        'GET',
        url,
        { 'x-aws-ec2-metadata-token': await this.currentToken(signal) },
        signal,
      );
    }
    if (response.status === 404) return undefined;
    if (response.status !== 200)
      throw new ImdsError(`IMDS GET ${url}: HTTP ${response.status}`, response.status);
    return response.body;
  }

  private async currentToken(signal: AbortSignal | undefined): Promise<string> {
    const now = this.options.clock.now();
    if (this.token && now < this.token.refreshAt) return this.token.value;
    const response = await this.request(
      'PUT',
      `${this.endpoint}/latest/api/token`,
      { 'x-aws-ec2-metadata-token-ttl-seconds': String(this.ttlSeconds) },
      signal,
    );
    if (response.status !== 200 || response.body === '') {
      throw new ImdsError(`IMDS token PUT: HTTP ${response.status}`, response.status);
    }
    const lifetimeMs = this.ttlSeconds * 1000;
    this.token = {
      value: response.body,
      refreshAt: now + Math.max(lifetimeMs / 2, lifetimeMs - TOKEN_REFRESH_MARGIN_MS),
    };
    return response.body;
  }

  private async request(
    method: 'GET' | 'PUT',
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; body: string }> {
    if (signal?.aborted) throw abortError(signal);
    const controller = new AbortController();
    const onAbort = (): void => {
      controller.abort(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = this.options.clock.setTimer(this.timeoutMs, () => {
      const timeout = new Error(`IMDS ${method} ${url}: no answer within ${this.timeoutMs} ms`);
      timeout.name = 'TimeoutError';
      controller.abort(timeout);
    });
    try {
      return await exchange(url, method, headers, controller.signal);
    } catch (err) {
      if (controller.signal.aborted) throw controller.signal.reason;
      throw err;
    } finally {
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** One request; resolves with the status and the body as text. */
function exchange(
  url: string,
  method: 'GET' | 'PUT',
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<{ status: number; body: string }> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers, signal }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', reject);
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function retryable(err: unknown): boolean {
  if (err instanceof ImdsError) return err.status === undefined || err.status >= 500 || err.status === 401;
  // Network errors and our own timeouts; an abort by the caller was checked before.
  return true;
}
