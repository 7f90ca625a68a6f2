import { MemoryCheckpointer, type Checkpointer, type CheckpointRead } from '../../agent/checkpoint.js';
import type { Clock } from '../../time/clock.js';

/**
 * A node's checkpoint file: it outlives every agent process of the node. Never closed (a
 * process's close flushes its own handle, not the file).
 */
export class NodeDisk {
  readonly checkpoint: MemoryCheckpointer;

  constructor(clock: Clock) {
    this.checkpoint = new MemoryCheckpointer(clock);
  }
}

/**
 * One agent process's handle on the node's checkpoint. `crash()` is kill -9: from then on nothing
 * this process saves reaches the disk and no save resolves (an ADD waiting for its assignment to
 * be durable is never answered; the plugin sees the socket close), while the disk keeps exactly
 * what was durable at the moment of the crash, for the next process to load.
 */
export class ProcessCheckpointer implements Checkpointer {
  private crashed = false;

  constructor(private readonly disk: NodeDisk) {}

  crash(): void {
    this.crashed = true;
  }

  load(): Promise<CheckpointRead> {
    return this.disk.checkpoint.load();
  }

  save(state: unknown): Promise<void> {
    return this.crashed ? never() : this.disk.checkpoint.save(state);
  }

  flush(): Promise<void> {
    return this.crashed ? never() : this.disk.checkpoint.flush();
  }

  close(): Promise<void> {
    return this.crashed ? never() : this.disk.checkpoint.flush();
  }
}

function never(): Promise<void> {
  return new Promise<void>(() => undefined);
}
