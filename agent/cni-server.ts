/**
 * The agent's CNI endpoint: a unix socket that only root can open, one request and one response
 * per connection (cni/protocol.ts), handed to a CniBackend. It never crashes on what a client
 * sends: oversized, broken or foreign requests get a protocol error answer, a silent client is
 * dropped after a read deadline, and a backend that throws gives code 100.
 */
import { chmod, lstat, mkdir, stat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  encodeResponse,
  MAX_MESSAGE_BYTES,
  parseRequest,
  PROTOCOL_VERSION,
  type AgentRequest,
  type AgentResponse,
} from '../cni/protocol.js';
import { idProblem } from '../cni/ids.js';
import { CniCode } from '../cni/spec.js';
import { REQUEST_READ_TIMEOUT_MS } from '../cni/timeouts.js';
import { systemClock, type Clock } from '../time/clock.js';
import { redactText } from './redact.js';
import type { CniBackend, CniFailure } from './cni-backend.js';
import type { CniCommand, CniRequestObserver, CniRequestResult } from './metrics/cni-request-timing.js';

/** The subset of a pino logger the server uses. */
export interface CniServerLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CniServerOptions {
  socketPath: string;
  backend: CniBackend;
  logger?: CniServerLogger;
  clock?: Clock;
  /** How long a connected client may take to send its request line. */
  readTimeoutMs?: number;
  /** Told how long each request took, socket in to socket out. */
  observer?: CniRequestObserver;
  /**
   * Monotonic milliseconds with sub-millisecond precision, for those durations (default
   * performance.now): the Clock's epoch milliseconds cannot tell 0.5 ms from 1 ms.
   */
  monotonicMs?: () => number;
}

/** Socket file mode: only root (the runtime running the plugin) may connect. */
const SOCKET_MODE = 0o600;
/** How long probing an existing socket file may take before we call it stale. */
const STALE_PROBE_TIMEOUT_MS = 1_000;

const silentLogger: CniServerLogger = { debug() {}, info() {}, warn() {}, error() {} };

function failure(code: number, msg: string, details?: string): AgentResponse {
  return {
    v: PROTOCOL_VERSION,
    ok: false,
    error: details === undefined ? { code, msg } : { code, msg, details },
  };
}

function fromFailure(f: CniFailure): AgentResponse {
  // A backend bug must not make the plugin print a code the spec reserves for success.
  const code = Number.isInteger(f.cniCode) && f.cniCode > 0 ? f.cniCode : CniCode.internal;
  return failure(code, f.message, f.details);
}

/** The result label of an answer: CNI code 11 is the one a runtime retries on its own. */
function resultOf(response: AgentResponse): CniRequestResult {
  if (response.ok) return 'ok';
  return response.error.code === CniCode.tryAgainLater ? 'try_again' : 'error';
}

interface Served {
  command: CniCommand;
  response: AgentResponse;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Whether something accepts connections on `path` (a live agent we must not displace). */
function isServing(path: string, clock: Clock): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = createConnection({ path });
    const done = (serving: boolean): void => {
      timer.cancel();
      socket.destroy();
      resolve(serving);
    };
    const timer = clock.setTimer(STALE_PROBE_TIMEOUT_MS, () => {
      done(false);
    });
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

/**
 * Runs `listen` with a umask that makes the socket 0600 from the moment it exists: Node binds a
 * unix socket synchronously inside listen(), so no other file is created under this mask. The
 * umask cannot change in a worker thread; the chmod after listen covers that case.
 */
function withOwnerOnlyUmask(listen: () => void): void {
  let previous: number | undefined;
  try {
    previous = process.umask(0o177);
  } catch {
    previous = undefined;
  }
  try {
    listen();
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
}

export class CniServer {
  private readonly socketPath: string;
  private readonly backend: CniBackend;
  private readonly logger: CniServerLogger;
  private readonly clock: Clock;
  private readonly readTimeoutMs: number;
  private readonly observer: CniRequestObserver | undefined;
  private readonly monotonicMs: () => number;
  private server: Server | undefined;
  /** Connections that have not delivered a request yet: nothing is lost by dropping them. */
  private readonly idle = new Set<Socket>();
  /** Requests being served, with the controller that tells the backend to stop waiting. */
  private readonly inflight = new Map<Socket, AbortController>();
  private readonly served = new Set<Promise<void>>();

  constructor(opts: CniServerOptions) {
    this.socketPath = opts.socketPath;
    this.backend = opts.backend;
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.readTimeoutMs = opts.readTimeoutMs ?? REQUEST_READ_TIMEOUT_MS;
    this.observer = opts.observer;
    this.monotonicMs = opts.monotonicMs ?? (() => performance.now());
  }

  async start(): Promise<void> {
    if (this.server !== undefined) throw new Error('CniServer already started');
    await mkdir(dirname(this.socketPath), { recursive: true, mode: 0o700 });
    await this.removeStaleSocket();
    const server = createServer((socket) => {
      this.accept(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      withOwnerOnlyUmask(() => {
        server.listen(this.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    });
    this.server = server;
    server.on('error', (err) => {
      this.logger.error({ err }, 'CNI socket server error');
    });
    await chmod(this.socketPath, SOCKET_MODE);
    const mode = (await stat(this.socketPath)).mode & 0o777;
    if (mode !== SOCKET_MODE) {
      await this.destroy();
      throw new Error(
        `CNI socket ${this.socketPath} has mode ${mode.toString(8)}, expected ${SOCKET_MODE.toString(8)}`,
      );
    }
    this.logger.info({ socket: this.socketPath }, 'CNI endpoint listening');
  }

  /** Stops accepting, answers every request already received, then removes the socket file. */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    for (const socket of this.idle) socket.destroy();
    await Promise.allSettled([...this.served]);
    await closed;
    await this.unlinkSocket();
  }

  /** Stops at once: waiting ADDs are aborted and their clients cut off (the runtime retries). */
  async destroy(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    for (const socket of this.idle) socket.destroy();
    for (const [socket, controller] of this.inflight) {
      controller.abort();
      socket.destroy();
    }
    await closed;
    await this.unlinkSocket();
  }

  private async removeStaleSocket(): Promise<void> {
    let isSocket: boolean;
    try {
      isSocket = (await lstat(this.socketPath)).isSocket();
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    if (!isSocket) throw new Error(`${this.socketPath} exists and is not a socket; refusing to replace it`);
    if (await isServing(this.socketPath, this.clock)) {
      throw new Error(`another process is serving ${this.socketPath}`);
    }
    this.logger.info({ socket: this.socketPath }, 'removing stale CNI socket');
    await this.unlinkSocket();
  }

  private async unlinkSocket(): Promise<void> {
    try {
      await unlink(this.socketPath);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
  }

  private accept(socket: Socket): void {
    this.idle.add(socket);
    const chunks: Buffer[] = [];
    let size = 0;
    let received = false;
    const timer = this.clock.setTimer(this.readTimeoutMs, () => {
      if (received) return;
      this.logger.debug({}, 'CNI client sent no request in time');
      socket.destroy();
    });

    /**
     * Writes the answer and closes our end: once written, the answer sits in the peer's queue, so
     * close() never waits on a client that does not hang up. The request's time ends when the
     * answer has been handed to the socket (a unix socket takes a small answer at once), or found
     * to have nobody to go to. The close waits for the shutdown's round trip through the event
     * loop: closing within the reply puts a close, and the peer's wake-up, between answers that go
     * out together (saves made while a checkpoint write is under way share the next one), which
     * measured made the later answers wait longer.
     */
    const reply = (served: Served, readAt: number): void => {
      if (!socket.destroyed) {
        socket.write(encodeResponse(served.response));
        socket.end(() => socket.destroy());
      }
      this.observer?.requestServed(served.command, resultOf(served.response), this.monotonicMs() - readAt);
    };

    const answer = (line: string, readAt: number): void => {
      received = true;
      timer.cancel();
      this.idle.delete(socket);
      const controller = new AbortController();
      this.inflight.set(socket, controller);
      const work = this.serve(line, controller.signal).then((served) => {
        this.inflight.delete(socket);
        reply(served, readAt);
      });
      this.served.add(work);
      void work.finally(() => this.served.delete(work));
    };

    socket.on('data', (chunk: Buffer) => {
      if (received) return;
      const nl = chunk.indexOf(0x0a);
      const part = nl === -1 ? chunk : chunk.subarray(0, nl);
      size += part.length;
      if (size > MAX_MESSAGE_BYTES) {
        const readAt = this.monotonicMs();
        received = true;
        timer.cancel();
        this.idle.delete(socket);
        this.logger.warn({ bytes: size }, 'CNI request too large');
        const tooLarge = failure(CniCode.agentProtocol, `request larger than ${MAX_MESSAGE_BYTES} bytes`);
        reply({ command: 'unreadable', response: tooLarge }, readAt);
        return;
      }
      chunks.push(part);
      if (nl !== -1) answer(Buffer.concat(chunks).toString('utf8'), this.monotonicMs());
    });
    // The plugin never half-closes: the end of its side means it has gone (killed by the runtime).
    socket.on('close', () => {
      timer.cancel();
      this.idle.delete(socket);
      this.inflight.get(socket)?.abort();
      this.inflight.delete(socket);
    });
    socket.on('error', (err) => {
      this.logger.debug({ err }, 'CNI client connection error');
    });
  }

  private async serve(line: string, signal: AbortSignal): Promise<Served> {
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      this.logger.warn({ violation: parsed.violation }, 'unreadable CNI request');
      return {
        command: 'unreadable',
        response: failure(
          CniCode.agentProtocol,
          `unreadable request to the eni-ipam agent: ${parsed.violation.message}`,
        ),
      };
    }
    const req = parsed.value;
    const command = req.op;
    const problem = idProblem(req);
    if (problem !== undefined) {
      this.logger.warn({ op: req.op, problem }, 'CNI request with an invalid id refused');
      return {
        command,
        response: failure(CniCode.invalidEnvironment, `invalid ${req.op.toUpperCase()} request: ${problem}`),
      };
    }
    try {
      const response = await this.dispatch(req, signal);
      this.logger.debug({ op: req.op, ok: response.ok }, 'CNI request served');
      return { command, response };
    } catch (err) {
      this.logger.error({ err: redactText(String(err)), op: req.op }, 'CNI backend failed');
      return {
        command,
        response: failure(
          CniCode.internal,
          'eni-ipam agent internal error',
          redactText(err instanceof Error ? err.message : String(err)),
        ),
      };
    }
  }

  private async dispatch(req: AgentRequest, signal: AbortSignal): Promise<AgentResponse> {
    const v = PROTOCOL_VERSION;
    switch (req.op) {
      case 'add': {
        const out = await this.backend.add(req, signal);
        return out.kind === 'ok' ? { v, ok: true, op: 'add', result: out.result } : fromFailure(out);
      }
      case 'del': {
        const out = await this.backend.del(req);
        return out.kind === 'ok' ? { v, ok: true, op: 'del' } : fromFailure(out);
      }
      case 'check': {
        const out = await this.backend.check(req);
        return out.kind === 'ok' ? { v, ok: true, op: 'check' } : fromFailure(out);
      }
      case 'gc': {
        const out = await this.backend.gc(req.validAttachments, req.network);
        return out.kind === 'ok' ? { v, ok: true, op: 'gc', released: out.released } : fromFailure(out);
      }
      case 'status': {
        const out = await this.backend.status();
        return out.kind === 'ok' ? { v, ok: true, op: 'status' } : fromFailure(out);
      }
    }
  }
}
