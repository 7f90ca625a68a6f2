/**
 * Whether the agent can serve CNI calls, for the liveness probe, and the repair it can make by
 * itself. Alive means: the CNI socket file is there (the plugin connects by its path), the state
 * directory is there, and the last checkpoint write succeeded (an ADD is answered only once its
 * assignment is durable, so a full or read-only disk fails every ADD). A socket whose file was
 * removed while its directory exists again is re-created; a directory that is gone is left for the
 * kubelet to re-create when it restarts the container (the DaemonSet's hostPath DirectoryOrCreate).
 */
import { lstat, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock, Timer } from '../time/clock.js';
import type { CheckpointRead, Checkpointer } from './checkpoint.js';

export interface LivenessStatus {
  alive: boolean;
  reason: string;
}

export interface CniLivenessLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * A Checkpointer that remembers whether its last write failed: the agent's ADDs wait on these
 * writes, so a failing write is an agent that cannot serve.
 */
export class WriteTrackingCheckpointer implements Checkpointer {
  private lastFailure: string | undefined;
  private lastState: { state: unknown } | undefined;

  constructor(private readonly inner: Checkpointer) {}

  /** Why the last write failed, or undefined when it succeeded (or none was made yet). */
  failure(): string | undefined {
    return this.lastFailure;
  }

  load(): Promise<CheckpointRead> {
    return this.inner.load();
  }

  save(state: unknown): Promise<void> {
    this.lastState = { state };
    return this.track(this.inner.save(state));
  }

  /**
   * Writes the last state again after a failed write, so that the checkpoint is durable again as
   * soon as the disk allows (space freed, directory back) without waiting for the next ADD or DEL.
   */
  async rewrite(): Promise<void> {
    if (this.lastFailure === undefined || this.lastState === undefined) return;
    await this.save(this.lastState.state).catch(() => undefined);
  }

  flush(): Promise<void> {
    return this.track(this.inner.flush());
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async track(write: Promise<void>): Promise<void> {
    try {
      await write;
      this.lastFailure = undefined;
    } catch (err) {
      this.lastFailure = err instanceof Error ? err.message : String(err);
      throw err;
    }
  }
}

export interface CniLivenessOptions {
  socketPath: string;
  /** The directory that holds the checkpoint (and, on a node, the socket and the spool). */
  stateDir: string;
  clock: Clock;
  /** Why the last checkpoint write failed, if it did. */
  writeFailure: () => string | undefined;
  /** Retries the failed checkpoint write (WriteTrackingCheckpointer.rewrite). */
  rewrite: () => Promise<void>;
  /** Re-creates the CNI socket; called when its file is gone and its directory exists. */
  relisten: () => Promise<void>;
  /** How often the files are checked. */
  intervalMs: number;
  logger?: CniLivenessLogger;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Whether `path` is there and of the kind asked; false when it (or a parent) is missing. */
async function isThere(path: string, kind: 'directory' | 'socket'): Promise<boolean> {
  try {
    return kind === 'directory' ? (await stat(path)).isDirectory() : (await lstat(path)).isSocket();
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return false;
    throw err;
  }
}

/**
 * Checks the files every `intervalMs` and keeps the answer, so that /healthz answers at once from
 * the event loop (a probe that waits on a hung disk would itself hang).
 */
export class CniLiveness {
  private last: LivenessStatus = { alive: true, reason: 'not checked yet' };
  private timer: Timer | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: CniLivenessOptions) {}

  status(): LivenessStatus {
    return this.last;
  }

  start(): void {
    this.schedule();
  }

  /** Runs one check now (and the repair it calls for); resolves with the new answer. */
  async check(): Promise<LivenessStatus> {
    this.running ??= this.runCheck().finally(() => {
      this.running = undefined;
    });
    await this.running;
    return this.last;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    await this.running;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.opts.clock.setTimer(this.opts.intervalMs, () => {
      void this.check().finally(() => {
        this.schedule();
      });
    });
  }

  private async runCheck(): Promise<void> {
    try {
      this.last = await this.evaluate();
    } catch (err) {
      this.last = {
        alive: false,
        reason: `cannot check the CNI endpoint: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }

  private async evaluate(): Promise<LivenessStatus> {
    const { socketPath, stateDir, logger } = this.opts;
    if (!(await isThere(stateDir, 'directory'))) {
      return {
        alive: false,
        reason: `state directory ${stateDir} is gone: the checkpoint cannot be written`,
      };
    }
    if (!(await isThere(socketPath, 'socket'))) {
      if (!(await isThere(dirname(socketPath), 'directory'))) {
        return {
          alive: false,
          reason: `CNI socket directory ${dirname(socketPath)} is gone: the plugin cannot connect`,
        };
      }
      logger?.warn({ socket: socketPath }, 'CNI socket file is gone; re-creating it');
      try {
        await this.opts.relisten();
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        return {
          alive: false,
          reason: `CNI socket ${socketPath} is gone and could not be re-created: ${why}`,
        };
      }
      if (!(await isThere(socketPath, 'socket'))) {
        return { alive: false, reason: `CNI socket ${socketPath} is gone` };
      }
      logger?.info({ socket: socketPath }, 'CNI socket re-created');
    }
    if (this.opts.writeFailure() !== undefined) await this.opts.rewrite();
    const failure = this.opts.writeFailure();
    if (failure !== undefined) {
      return { alive: false, reason: `checkpoint writes fail, so every ADD fails: ${failure}` };
    }
    return { alive: true, reason: 'serving CNI calls' };
  }
}
