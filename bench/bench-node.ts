/**
 * One simulated node of an in-process benchmark: a real eni-ipam agent built by
 * agent/assemble.ts (as on a node) with the real provider over the simulator's in-process SDK
 * transport, and a planning policy the benchmark chooses. The scenario runner's SimNode has no
 * policy hook, and the benchmarks need no kill or restart events, so this is the runner's node
 * without them: start (again with the DaemonSet's back-off while start-up fails), serve, discard.
 */
import { setMaxListeners } from 'node:events';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { assembleNodeAgent } from '../agent/assemble.js';
import { MemoryCheckpointer } from '../agent/checkpoint.js';
import type { AddOutcome, AddRequest, DelOutcome, DelRequest } from '../agent/cni-backend.js';
import type { AgentConfig } from '../agent/config.js';
import type { NodePods } from '../agent/kube/pod-watch.js';
import type { Logger } from '../agent/logger.js';
import { WarmUpReporter, type WarmUpSink } from '../agent/warm-up-report.js';
import type { NodeAgent } from '../agent/node-agent.js';
import type { PoolPolicy } from '../agent/pool-policy.js';
import { AwsEc2Network } from '../provider/aws-ec2-network.js';
import type { Ec2Limiter } from '../provider/limiter.js';
import type { MetadataSource } from '../provider/metadata.js';
import type { NodeSocket } from '../sim/runner/container-runtime.js';
import { UNREACHABLE } from '../sim/runner/agent-process.js';
import { isAbortError, type Clock } from '../time/clock.js';

/** The DaemonSet's restart back-off for an agent that failed to start (as the runner's SimNode). */
const CRASH_LOOP_INITIAL_MS = 10_000;
const CRASH_LOOP_MAX_MS = 300_000;

export interface BenchNodeOptions {
  name: string;
  config: AgentConfig;
  sdk: EC2Client;
  metadata: MetadataSource;
  limiter: Ec2Limiter;
  clock: Clock;
  random: () => number;
  logger: Logger;
  pods: NodePods;
  policy: PoolPolicy | undefined;
  /** Where the agent reports that its warm-up is over; absent: nowhere. */
  warmUp?: WarmUpSink;
}

export class BenchNode implements NodeSocket {
  private agent: NodeAgent | undefined;
  private serving = false;
  private readonly lifecycle = new AbortController();
  failedStarts = 0;

  constructor(private readonly options: BenchNodeOptions) {
    // Every ADD waiting for an address listens on the node's lifecycle: a burst has hundreds.
    setMaxListeners(0, this.lifecycle.signal);
  }

  get name(): string {
    return this.options.name;
  }

  /** The agent once it serves CNI calls. */
  get running(): NodeAgent | undefined {
    return this.serving ? this.agent : undefined;
  }

  /** Starts the agent in the background, again with back-off while it fails to start. */
  launch(): void {
    void this.launchLoop();
  }

  add(req: AddRequest): Promise<AddOutcome> {
    const agent = this.running;
    return agent ? agent.backend.add(req, this.lifecycle.signal) : Promise.resolve(UNREACHABLE);
  }

  del(req: DelRequest): Promise<DelOutcome> {
    const agent = this.running;
    return agent ? agent.backend.del(req) : Promise.resolve(UNREACHABLE);
  }

  /**
   * Ends the agent once the run is measured. Not awaited: its close waits for EC2 work under way,
   * which only the run's ManualClock would complete (the runner's kill does the same).
   */
  discard(): void {
    this.lifecycle.abort();
    this.serving = false;
    void this.agent?.close();
  }

  private build(): NodeAgent {
    const { options } = this;
    const ec2 = new AwsEc2Network({
      ec2Client: options.sdk,
      metadata: options.metadata,
      limiter: options.limiter,
      clock: options.clock,
      random: options.random,
      extraTags: options.config.additionalEniTags,
    });
    return assembleNodeAgent({
      config: options.config,
      ec2,
      clock: options.clock,
      logger: options.logger,
      checkpointer: new MemoryCheckpointer(options.clock),
      pods: options.pods,
      ...(options.policy ? { policy: options.policy } : {}),
    }).agent;
  }

  private async launchLoop(): Promise<void> {
    const { clock, logger } = this.options;
    const signal = this.lifecycle.signal;
    let backoff = CRASH_LOOP_INITIAL_MS;
    while (!signal.aborted) {
      const agent = this.build();
      this.agent = agent;
      try {
        await agent.start();
        this.serving = !signal.aborted;
        if (this.options.warmUp) {
          const reporter = new WarmUpReporter({ clock, view: () => agent.view(), sink: this.options.warmUp });
          void reporter.run(signal);
        }
        return;
      } catch (err) {
        this.failedStarts++;
        logger.warn({ node: this.name, err: (err as Error).message }, 'agent failed to start; restarting');
        await agent.close();
      }
      try {
        await clock.sleep(backoff, signal);
      } catch (err) {
        if (isAbortError(err)) return;
        throw err;
      }
      backoff = Math.min(backoff * 2, CRASH_LOOP_MAX_MS);
    }
  }
}
