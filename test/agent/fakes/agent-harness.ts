import { MemoryCheckpointer, type Checkpointer } from '../../../agent/checkpoint.js';
import type { AddOutcome, AddRequest } from '../../../agent/cni-backend.js';
import { silentLogger } from '../../../agent/logger.js';
import { NodeAgent, type NodeAgentDeps, type NodeAgentSettings } from '../../../agent/node-agent.js';
import { parseWarmTargets } from '../../../agent/config-warm-targets.js';
import { ManualClock } from '../../../time/manual-clock.js';
import { CrashableCheckpointer } from './crashable-checkpointer.js';
import { FakeEc2Network } from './fake-ec2-network.js';

export function settings(
  env: Record<string, string> = {},
  overrides: Partial<NodeAgentSettings> = {},
): NodeAgentSettings {
  return {
    warmTargets: parseWarmTargets(env),
    customNetworking: false,
    subnetDiscovery: true,
    clusterName: undefined,
    ipCooldownMs: 30_000,
    addWaitMs: 20_000,
    ec2ResyncMs: 60_000,
    podGoneGraceMs: 60_000,
    leakedEniGraceMs: 300_000,
    leakedEniCleanup: false,
    subnetFullSkipMs: 180_000,
    podEniSecurityGroups: undefined,
    pools: [],
    spoolPath: undefined,
    ...overrides,
  };
}

/** Builds an agent other than the plain one (e.g. through agent/assemble.ts) on the harness's fakes. */
export type AgentFactory = (h: AgentHarness, checkpointer: Checkpointer) => NodeAgent;

/** An agent on a fake EC2 and simulated time, with helpers that play the container runtime. */
export class AgentHarness {
  readonly clock = new ManualClock();
  readonly ec2: FakeEc2Network;
  /** The checkpoint on disk: it outlives every agent process of the harness. */
  readonly checkpointer = new MemoryCheckpointer(this.clock);
  agent: NodeAgent;
  /** The current process's handle on the checkpoint (see kill()). */
  private process: CrashableCheckpointer | undefined;

  constructor(
    private readonly agentSettings: NodeAgentSettings,
    instanceType = 'm5.large',
    private readonly extra: Partial<NodeAgentDeps> = {},
    private readonly factory?: AgentFactory,
  ) {
    this.ec2 = new FakeEc2Network(this.clock, instanceType);
    this.agent = this.newAgent();
  }

  /** A new agent process on the same EC2, clock and checkpoint (assign it to `agent`, then start()). */
  newAgent(): NodeAgent {
    this.process = new CrashableCheckpointer(this.checkpointer);
    if (this.factory) return this.factory(this, this.process);
    return new NodeAgent({
      settings: this.agentSettings,
      ec2: this.ec2,
      clock: this.clock,
      logger: silentLogger(),
      checkpointer: this.process,
      ...this.extra,
    });
  }

  /**
   * kill -9 of the current agent: nothing it saves from now on becomes durable, no ADD it has not
   * answered yet is ever answered, and its timers stop (a dead process plans nothing more). EC2
   * requests it already sent still complete at EC2, as real ones do. Its close() is not awaited:
   * that is only how its loops are stopped; the crashed checkpoint makes the close a no-op on disk.
   */
  kill(): void {
    this.process?.crash();
    void this.agent.close();
  }

  /** kill(), then a new agent process started on the same checkpoint and EC2. */
  async restart(): Promise<void> {
    this.kill();
    this.agent = this.newAgent();
    await this.start();
  }

  async start(): Promise<void> {
    const starting = this.agent.start();
    await this.clock.runUntil(() => this.agent.view !== undefined && this.isStarted(), 60_000);
    await starting;
  }

  /** Lets simulated time pass, firing every timer on the way. */
  async run(ms: number): Promise<void> {
    await this.clock.advance(ms);
  }

  add(id: string, signal = new AbortController().signal): Promise<AddOutcome> {
    const request: AddRequest = {
      op: 'add',
      containerId: id,
      ifname: 'eth0',
      netns: `/var/run/netns/${id}`,
      network: 'eni-ipam',
      pod: { namespace: 'default', name: `pod-${id}`, uid: `uid-${id}` },
    };
    return this.agent.backend.add(request, signal);
  }

  del(id: string): ReturnType<NodeAgent['backend']['del']> {
    return this.agent.backend.del({
      op: 'del',
      containerId: id,
      ifname: 'eth0',
      network: 'eni-ipam',
      pod: { namespace: 'default', name: `pod-${id}`, uid: `uid-${id}` },
    });
  }

  private isStarted(): boolean {
    try {
      return this.agent.view().ready;
    } catch {
      return false;
    }
  }
}

export function addressOf(outcome: AddOutcome): string {
  if (outcome.kind !== 'ok') throw new Error(`ADD failed: ${outcome.message}`);
  const ip = outcome.result.ips[0];
  if (!ip) throw new Error('ADD result has no address');
  return ip.address.split('/')[0]!;
}
