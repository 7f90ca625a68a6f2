import { setMaxListeners } from 'node:events';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { assembleNodeAgent } from '../../agent/assemble.js';
import type { AddOutcome, AddRequest, CniFailure, DelOutcome, DelRequest } from '../../agent/cni-backend.js';
import type { AgentConfig } from '../../agent/config.js';
import { DeferredBackend } from '../../agent/deferred-backend.js';
import type { NodePods } from '../../agent/kube/pod-watch.js';
import type { Logger } from '../../agent/logger.js';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import type { NodeAgent } from '../../agent/node-agent.js';
import { AwsEc2Network } from '../../provider/aws-ec2-network.js';
import type { Ec2Limiter } from '../../provider/limiter.js';
import type { MetadataSource } from '../../provider/metadata.js';
import type { Clock } from '../../time/clock.js';
import { ProcessCheckpointer, type NodeDisk } from './process-checkpoint.js';
import { ProcessLimiter } from './process-limiter.js';

export interface AgentProcessOptions {
  config: AgentConfig;
  /** One SDK client for every simulated node: its first-call set-up runs once, not per node. */
  sdk: EC2Client;
  metadata: MetadataSource;
  /** This process's limiter; `ownsLimiter` false when it is the cluster-shared one. */
  limiter: Ec2Limiter;
  ownsLimiter: boolean;
  clock: Clock;
  random: () => number;
  logger: Logger;
  disk: NodeDisk;
  pods: NodePods;
}

/** The plugin could not connect: no process listens on the socket. */
export const UNREACHABLE: CniFailure = {
  kind: 'failure',
  cniCode: 11,
  message: 'eni-ipam agent unreachable: connection refused',
};

const DIED: CniFailure = {
  kind: 'failure',
  cniCode: 11,
  message: 'eni-ipam agent closed the connection before answering',
};

/**
 * One eni-ipam process on a simulated node, built by the same assemble path as agent/main.ts: its
 * CNI endpoint opens first (answering "try again" until the agent has started, as the real
 * socket's DeferredBackend does), then the agent starts. It ends either gracefully (`stop`: the
 * agent's close()) or by `kill` (kill -9: no flush, no answer to calls in progress, no more EC2
 * requests, while requests already sent complete at EC2).
 */
export class AgentProcess {
  readonly agent: NodeAgent;
  readonly metrics: AgentMetrics;
  private readonly endpoint = new DeferredBackend();
  private readonly checkpointer: ProcessCheckpointer;
  private readonly limiter: ProcessLimiter;
  private readonly death = new AbortController();
  private served = false;
  private closing = false;

  constructor(options: AgentProcessOptions) {
    // Every CNI call in progress listens for the process's death.
    setMaxListeners(0, this.death.signal);
    this.checkpointer = new ProcessCheckpointer(options.disk);
    this.limiter = new ProcessLimiter(options.limiter, options.ownsLimiter);
    const { config, clock } = options;
    // As agent/assemble.ts's startAgent: the provider reports to the metrics from its construction
    // on; assembleNodeAgent points the metrics' gauges at the agent it builds on that provider.
    const metrics = new AgentMetrics();
    const ec2 = new AwsEc2Network({
      ec2Client: options.sdk,
      metadata: options.metadata,
      limiter: this.limiter,
      clock,
      random: options.random,
      observer: metrics.ec2,
      extraTags: config.additionalEniTags,
      ...(config.clusterName === undefined ? {} : { clusterName: config.clusterName }),
    });
    this.agent = assembleNodeAgent({
      config,
      ec2,
      clock,
      logger: options.logger,
      checkpointer: this.checkpointer,
      pods: options.pods,
      metrics,
    }).agent;
    this.metrics = metrics;
  }

  /** Starts the agent; resolves once it serves CNI calls (rejects when it could not start). */
  async start(): Promise<void> {
    await this.agent.start();
    if (this.death.signal.aborted) return;
    this.endpoint.serve(this.agent.backend);
    this.served = true;
  }

  get serving(): boolean {
    return this.served && !this.closing && !this.death.signal.aborted;
  }

  /** A CNI ADD through the socket; a call in progress when the process dies fails like a closed socket. */
  add(req: AddRequest): Promise<AddOutcome> {
    if (this.closing || this.death.signal.aborted) return Promise.resolve(UNREACHABLE);
    return this.raceDeath(this.endpoint.add(req, this.death.signal));
  }

  del(req: DelRequest): Promise<DelOutcome> {
    if (this.closing || this.death.signal.aborted) return Promise.resolve(UNREACHABLE);
    return this.raceDeath(this.endpoint.del(req));
  }

  /** Graceful stop (SIGTERM): the agent closes, in-flight EC2 work finishes, the checkpoint is flushed. */
  async stop(): Promise<void> {
    // The socket closes first (agent/main.ts's stop order): new calls find no one listening.
    this.closing = true;
    await this.agent.close();
    this.death.abort();
    await this.limiter.close();
  }

  /** kill -9. */
  kill(): void {
    this.checkpointer.crash();
    this.limiter.shut();
    this.death.abort();
    // Only to stop the dead agent's timers; the crashed checkpoint makes it touch nothing durable.
    void this.agent.close();
  }

  private raceDeath<T>(call: Promise<T>): Promise<T | CniFailure> {
    const signal = this.death.signal;
    return new Promise((resolve, reject) => {
      const onDeath = (): void => {
        resolve(DIED);
      };
      signal.addEventListener('abort', onDeath, { once: true });
      call.then(
        (value) => {
          signal.removeEventListener('abort', onDeath);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onDeath);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}
