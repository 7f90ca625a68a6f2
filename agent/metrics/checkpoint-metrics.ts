import type { Checkpointer } from '../checkpoint.js';

/** Where failed checkpoint writes are counted (AgentMetrics implements it). */
export interface CheckpointStats {
  checkpointWriteFailed(): void;
}

/**
 * The same checkpointer, counting every save or flush that rejects. The caller still sees the
 * rejection; the count is what an alert watches, since a failing disk otherwise shows only in logs.
 */
export function countingCheckpointWrites(inner: Checkpointer, stats: CheckpointStats): Checkpointer {
  const counted = (write: Promise<void>): Promise<void> =>
    write.catch((err: unknown) => {
      stats.checkpointWriteFailed();
      throw err;
    });
  return {
    load: () => inner.load(),
    save: (state) => counted(inner.save(state)),
    flush: () => counted(inner.flush()),
    close: () => inner.close(),
  };
}
