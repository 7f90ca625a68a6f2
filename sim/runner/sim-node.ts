import type { EC2Client } from '@aws-sdk/client-ec2';
import type { AddOutcome, AddRequest, CniFailure, DelOutcome, DelRequest } from '../../agent/cni-backend.js';
import type { AgentConfig } from '../../agent/config.js';
import type { Logger } from '../../agent/logger.js';
import { WarmUpReporter, type WarmUpSink } from '../../agent/warm-up-report.js';
import type { Ec2Limiter } from '../../provider/limiter.js';
import type { MetadataSource } from '../../provider/metadata.js';
import { isAbortError, type Clock } from '../../time/clock.js';
import { AgentProcess, UNREACHABLE } from './agent-process.js';
import type { ClusterPods } from './cluster-pods.js';
import type { NodeSocket } from './container-runtime.js';
import { NodeDisk } from './process-checkpoint.js';

/** The DaemonSet's restart back-off for an agent that failed to start (kubelet's CrashLoopBackOff). */
const CRASH_LOOP_INITIAL_MS = 10_000;
const CRASH_LOOP_MAX_MS = 300_000;

export interface SimNodeOptions {
  name: string;
  instanceId: string;
  config: AgentConfig;
  sdk: EC2Client;
  metadata: MetadataSource;
  /** A new limiter for each process, or the cluster-shared one (then `sharedLimiter` is true). */
  limiter: () => Ec2Limiter;
  sharedLimiter: boolean;
  clock: Clock;
  random: () => number;
  logger: Logger;
  api: ClusterPods;
  /** Where the node's agent reports that its warm-up is over; absent: nowhere. */
  warmUp?: WarmUpSink;
}

/**
 * One simulated node: its instance, its checkpoint on disk, and the eni-ipam process currently
 * running on it (if any). Events of the scenario stop, kill and start that process.
 */
export class SimNode implements NodeSocket {
  readonly disk: NodeDisk;
  private current: AgentProcess | undefined;
  private lifecycle = new AbortController();
  /** Agent processes started on this node (restarts included). */
  starts = 0;
  failedStarts = 0;

  constructor(private readonly options: SimNodeOptions) {
    this.disk = new NodeDisk(options.clock);
  }

  get name(): string {
    return this.options.name;
  }

  get instanceId(): string {
    return this.options.instanceId;
  }

  /** The process that is serving CNI calls, if one is. */
  get serving(): AgentProcess | undefined {
    return this.current?.serving === true ? this.current : undefined;
  }

  get process(): AgentProcess | undefined {
    return this.current;
  }

  /**
   * Starts a process (in the background), restarting it with back-off while it fails to start.
   * One agent per node, as the DaemonSet runs it: nothing happens while a process is up.
   */
  launch(): void {
    if (this.current) return;
    this.lifecycle.abort();
    this.lifecycle = new AbortController();
    void this.launchLoop(this.lifecycle.signal);
  }

  /** SIGTERM: graceful stop of the running process. */
  async stop(): Promise<void> {
    this.lifecycle.abort();
    const process = this.current;
    this.current = undefined;
    await process?.stop();
  }

  /** kill -9 of the running process. */
  kill(): void {
    this.lifecycle.abort();
    this.current?.kill();
    this.current = undefined;
  }

  add(req: AddRequest): Promise<AddOutcome> {
    const process = this.current;
    if (!process) return Promise.resolve(UNREACHABLE);
    return process.add(req).catch(asFailure);
  }

  del(req: DelRequest): Promise<DelOutcome> {
    const process = this.current;
    if (!process) return Promise.resolve(UNREACHABLE);
    return process.del(req).catch(asFailure);
  }

  private async launchLoop(signal: AbortSignal): Promise<void> {
    const { options } = this;
    let backoff = CRASH_LOOP_INITIAL_MS;
    while (!signal.aborted) {
      const process = new AgentProcess({
        config: options.config,
        sdk: options.sdk,
        metadata: options.metadata,
        limiter: options.limiter(),
        ownsLimiter: !options.sharedLimiter,
        clock: options.clock,
        random: options.random,
        logger: options.logger,
        disk: this.disk,
        pods: options.api.watchOf(options.name),
      });
      this.current = process;
      this.starts++;
      try {
        await process.start();
        if (options.warmUp) {
          const reporter = new WarmUpReporter({
            clock: options.clock,
            view: () => process.agent.view(),
            sink: options.warmUp,
          });
          void reporter.run(signal);
        }
        return;
      } catch (err) {
        if (signal.aborted) return;
        this.failedStarts++;
        options.logger.warn(
          { node: options.name, err: (err as Error).message },
          'agent failed to start; restarting',
        );
        process.kill();
        if (this.current === process) this.current = undefined;
      }
      try {
        await options.clock.sleep(backoff, signal);
      } catch (err) {
        if (isAbortError(err)) return;
        throw err;
      }
      backoff = Math.min(backoff * 2, CRASH_LOOP_MAX_MS);
    }
  }
}

/** The CNI server answers a backend that threw with code 100 (a bug), never by hanging up. */
function asFailure(err: unknown): CniFailure {
  return { kind: 'failure', cniCode: 100, message: err instanceof Error ? err.message : String(err) };
}
