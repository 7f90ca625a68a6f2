import type { Checkpointer, CheckpointRead } from '../../../agent/checkpoint.js';

/**
 * One agent process's handle on a durable checkpoint that outlives it. `crash()` models kill -9:
 * from then on nothing this process saves reaches the disk and no save ever resolves (an ADD
 * waiting for its assignment to be durable is never answered; the plugin sees the socket close).
 * The underlying checkpointer keeps exactly what was durable at the moment of the crash, for the
 * next process to load.
 */
export class CrashableCheckpointer implements Checkpointer {
  private crashed = false;

  constructor(private readonly durable: Checkpointer) {}

  crash(): void {
    this.crashed = true;
  }

  load(): Promise<CheckpointRead> {
    return this.durable.load();
  }

  save(state: unknown): Promise<void> {
    return this.crashed ? never() : this.durable.save(state);
  }

  flush(): Promise<void> {
    return this.crashed ? never() : this.durable.flush();
  }

  /** A process's close never closes the file for the next process. */
  close(): Promise<void> {
    return this.crashed ? never() : this.durable.flush();
  }
}

function never(): Promise<void> {
  return new Promise<void>(() => undefined);
}
