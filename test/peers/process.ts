/**
 * A long-running peer process (etcd, kube-apiserver, moto, redis): spawned with its output kept
 * for error messages, waited on until it answers, and stopped by its PID. Real processes run in
 * real time, so waits go through the system Clock rather than a simulated one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { systemClock, type Clock } from '../../time/clock.js';

/** How much of a peer's output is kept: enough for the reason it failed, bounded for chatty ones. */
const OUTPUT_TAIL_CHARS = 16_384;
/** After SIGTERM a peer gets this long to exit before SIGKILL (etcd and moto flush on TERM). */
const STOP_GRACE_MS = 5_000;

export interface PeerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface PeerProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<PeerExit>;
  /** The process has exited (stop() or on its own). */
  hasExited(): boolean;
  /** The last OUTPUT_TAIL_CHARS characters of stdout and stderr, interleaved. */
  output(): string;
  /** SIGTERM by PID, SIGKILL after a grace period; resolves once the process is gone. */
  stop(): Promise<void>;
}

export interface SpawnPeerOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly clock?: Clock;
}

export function spawnPeer(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnPeerOptions = {},
): PeerProcess {
  const clock = options.clock ?? systemClock;
  const child: ChildProcess = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exit: PeerExit | undefined;
  const exited = new Promise<PeerExit>((resolve) => {
    child.once('error', (err) => {
      keep(Buffer.from(`\n[${name}: ${err.message}]\n`));
      exit = { code: null, signal: null };
      resolve(exit);
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  const pid = child.pid;
  if (pid === undefined) {
    // spawn() reports ENOENT/EACCES asynchronously through 'error'; there is no PID to stop.
    return {
      name,
      pid: -1,
      exited,
      hasExited: () => true,
      output: () => tail,
      stop: async () => {
        await exited;
      },
    };
  }
  return {
    name,
    pid,
    exited,
    hasExited: () => exit !== undefined,
    output: () => tail,
    async stop(): Promise<void> {
      if (exit !== undefined) return;
      signalPid(pid, 'SIGTERM');
      const controller = new AbortController();
      const gone = await Promise.race([
        exited.then(() => true),
        clock.sleep(STOP_GRACE_MS, controller.signal).then(
          () => false,
          () => false,
        ),
      ]);
      controller.abort();
      if (!gone) {
        signalPid(pid, 'SIGKILL');
        await exited;
      }
    },
  };
}

/** Signals `pid`, ignoring "no such process" (it may have exited between the check and the kill). */
function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export interface WaitReadyOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  readonly clock?: Clock;
}

/**
 * Polls `probe` until it returns true. Fails early, with the peer's output, if the process exits;
 * fails with the last probe error and the output if it is not ready in time.
 */
export async function waitUntilReady(
  peer: PeerProcess,
  probe: () => Promise<boolean>,
  options: WaitReadyOptions,
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + options.timeoutMs;
  let lastProblem = 'not ready';
  for (;;) {
    if (peer.hasExited()) {
      const exit = await peer.exited;
      throw new Error(
        `${peer.name} exited before it was ready (code ${String(exit.code)}, signal ${String(exit.signal)}):\n${peer.output()}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastProblem = err instanceof Error ? err.message : String(err);
    }
    if (clock.now() >= deadline) {
      throw new Error(
        `${peer.name} was not ready after ${options.timeoutMs} ms (${lastProblem}):\n${peer.output()}`,
      );
    }
    await clock.sleep(options.intervalMs ?? 100);
  }
}

/**
 * A loopback TCP port that was free a moment ago. Another process may take it before the peer
 * binds it; startOnFreePorts then starts the peer again on another one.
 */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  if (address === null || typeof address === 'string') throw new Error('could not read a free loopback port');
  return address.port;
}

/** A loopback port held by this process, as another program would hold it. */
export interface HeldPort {
  readonly port: number;
  /** Stops listening and drops every connection made to it (a held port never answers them). */
  release(): Promise<void>;
}

/**
 * Binds `port` on 127.0.0.1 and accepts connections without answering them: what a peer finds
 * when another process took its port first. For tests of startOnFreePorts and its callers.
 */
export async function holdLoopbackPort(port: number): Promise<HeldPort> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    release: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        for (const socket of sockets) socket.destroy();
      }),
  };
}

export interface FreePortsOptions {
  /** How many starts in all before giving up; default 3. */
  readonly attempts?: number;
  /**
   * Ports for the first start (a restart on the ports the peer had before); fresh ones are chosen
   * only when one of them is lost. Default: fresh ports from the first start on.
   */
  readonly firstPorts?: readonly number[];
}

/** What a process prints (Node, Go and Python alike) when the port it tries to bind is taken. */
const ADDRESS_IN_USE = /address already in use|EADDRINUSE/i;

/**
 * Runs `start` on `count` fresh loopback ports, and again on new ones when the peer lost a port to
 * another process between the choice and its bind (the error, which carries the peer's output,
 * says "address already in use"), up to `attempts` times; then fails with the last error. Any
 * other error fails at once. `start` stops its own peer when it fails.
 */
export async function startOnFreePorts<T>(
  count: number,
  start: (ports: number[]) => Promise<T>,
  options: FreePortsOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 3;
  if (options.firstPorts !== undefined && options.firstPorts.length !== count) {
    throw new Error(`startOnFreePorts: ${options.firstPorts.length} first ports given for ${count}`);
  }
  for (let attempt = 1; ; attempt++) {
    const ports: number[] = [];
    if (attempt === 1 && options.firstPorts !== undefined) ports.push(...options.firstPorts);
    else for (let i = 0; i < count; i++) ports.push(await freeLoopbackPort());
    try {
      return await start(ports);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!ADDRESS_IN_USE.test(message)) throw err;
      if (attempt >= attempts) {
        throw new Error(
          `a port was taken by another process before the peer could bind it, on each of ${attempts} attempts; the last (ports ${ports.join(', ')}): ${message}`,
          { cause: err },
        );
      }
    }
  }
}
