import { currentCallPriority, type PrioritySource } from '../../provider/call-priority.js';
import type { Ec2Limiter } from '../../provider/limiter.js';
import type { Ec2Api } from '../../provider/rate-limits.js';

/**
 * One agent process's door to its EC2 limiter. Every request the provider sends, retries included,
 * passes through `schedule`, so shutting the door is how a killed process stops talking to EC2:
 * calls queued or retried afterwards never start (a dead process sends nothing), while requests
 * already on the wire complete at EC2, as real ones do. With the cluster-shared limiter (the
 * Redis budget) the door closes this process only, not the shared limiter.
 */
export class ProcessLimiter implements Ec2Limiter {
  private open = true;

  constructor(
    private readonly inner: Ec2Limiter,
    private readonly ownsInner: boolean,
  ) {}

  schedule<T>(
    api: Ec2Api,
    fn: () => Promise<T>,
    priority: PrioritySource = currentCallPriority(),
  ): Promise<T> {
    if (!this.open) return new Promise<T>(() => undefined);
    return this.inner.schedule(api, () => (this.open ? fn() : new Promise<T>(() => undefined)), priority);
  }

  throttled(api: Ec2Api): void {
    if (this.open) this.inner.throttled(api);
  }

  /** The process died: nothing it still wants to send is sent; its promises never settle. */
  shut(): void {
    this.open = false;
    if (this.ownsInner) void this.inner.close();
  }

  close(): Promise<void> {
    this.open = false;
    return this.ownsInner ? this.inner.close() : Promise.resolve();
  }
}
