/**
 * One simulated node for end-to-end suites: a SimulatedCloud on real time, its EC2 Query API and
 * IMDSv2 served over HTTP on loopback, and one running instance for the agent process to be. The
 * test process holds the cloud, so it can inspect EC2's current truth while the agent runs in a
 * child process and reaches EC2 only over the wire, as on a real node.
 */
import { SimulatedCloud } from '../../../sim/cloud.js';
import type { SimConfigInput } from '../../../sim/config.js';
import { Ec2Endpoint, type EndpointOutcome } from '../../../sim/ec2-endpoint.js';
import { Ec2HttpServer } from '../../../sim/http-server.js';
import { ImdsHttpServer } from '../../../sim/imds-http.js';
import type { SimInstance } from '../../../sim/model.js';
import { SeededRandom } from '../../../sim/random.js';
import type { SimState } from '../../../sim/state.js';
import { errorXml } from '../../../sim/xml.js';
import { systemClock } from '../../../time/clock.js';

/**
 * Pod addresses live in the benchmarking range (RFC 2544, 198.18.0.0/15): the reference plugins
 * put host routes to them, and this range is never one of the machine's own networks.
 * test/e2e/peers.test.ts uses 198.18.42.0/24; these suites stay clear of it.
 */
export const E2E_VPC_CIDR = '198.19.0.0/16';
export const E2E_SUBNET_ID = 'subnet-0e2e0000000000001';
export const E2E_SUBNET_CIDR = '198.19.0.0/22';
export const E2E_AVAILABILITY_ZONE = 'us-east-1a';

/**
 * Latencies well below EC2's (seconds) so that a suite spends its time on the agent, not waiting:
 * the orderings that matter (create before attach, attach completes later) are kept.
 */
export const FAST_LATENCY_MS: Readonly<Record<string, number>> = {
  default: 5,
  CreateNetworkInterface: 30,
  AttachNetworkInterface: 40,
  AssignPrivateIpAddresses: 20,
};

export interface SimulatedNodeOptions {
  /** Default t3.medium (3 ENIs x 6 addresses: max pods 17). */
  instanceType?: string;
  /** Overrides of the simulator's configuration (seed, faults, throttling, visibility delay...). */
  sim?: Omit<SimConfigInput, 'subnets' | 'vpcCidr'>;
  /** Default one /22 subnet, E2E_SUBNET_CIDR, tagged for subnet discovery. */
  subnetCidr?: string;
  /**
   * Share of requests refused with RequestLimitExceeded (503) before they reach the simulator, on
   * top of its own token buckets: a steady throttling rate that does not depend on how fast the
   * agent happens to call. Seeded by the simulator's seed.
   */
  throttleRate?: number;
}

/** Refuses a seeded share of requests as EC2 does when the account's bucket is empty. */
class ThrottlingEndpoint extends Ec2Endpoint {
  private readonly random: SeededRandom;
  private refused = 0;

  constructor(
    state: SimState,
    private readonly rate: number,
    seed: number,
  ) {
    super(state);
    // A stream of its own: the simulator's address and fault streams stay as they are without it.
    this.random = new SeededRandom(seed, 7);
  }

  override async handle(body: string, signal?: AbortSignal): Promise<EndpointOutcome> {
    if (this.random.chance(this.rate)) {
      this.stats.throttled();
      const requestId = `00000000-0000-4000-9000-${(++this.refused).toString(16).padStart(12, '0')}`;
      return {
        kind: 'response',
        httpStatus: 503,
        body: errorXml('RequestLimitExceeded', 'Request limit exceeded.', requestId),
        requestId,
      };
    }
    return super.handle(body, signal);
  }
}

export interface SimulatedNode {
  readonly cloud: SimulatedCloud;
  readonly instance: SimInstance;
  readonly subnetId: string;
  /** AWS_EC2_ENDPOINT for the agent. */
  readonly ec2Endpoint: string;
  /** ENI_IPAM_IMDS_ENDPOINT for the agent (the instance's path prefix on the shared IMDS server). */
  readonly imdsEndpoint: string;
  readonly region: string;
  /** The endpoint the agent talks to; its `stats` count calls, throttles and errors. */
  readonly endpoint: Ec2Endpoint;
  close(): Promise<void>;
}

export async function startSimulatedNode(options: SimulatedNodeOptions = {}): Promise<SimulatedNode> {
  const cloud = new SimulatedCloud(
    {
      latencyMs: { ...FAST_LATENCY_MS },
      ...options.sim,
      vpcCidr: E2E_VPC_CIDR,
      subnets: [
        {
          id: E2E_SUBNET_ID,
          az: E2E_AVAILABILITY_ZONE,
          cidr: options.subnetCidr ?? E2E_SUBNET_CIDR,
          tags: { 'kubernetes.io/role/cni': '1' },
        },
      ],
    },
    systemClock,
  );
  const instance = cloud.launchInstance({
    instanceType: options.instanceType ?? 't3.medium',
    subnetId: E2E_SUBNET_ID,
  });
  const endpoint =
    options.throttleRate === undefined
      ? cloud.endpoint
      : new ThrottlingEndpoint(cloud.stateForImds(), options.throttleRate, cloud.config.seed);
  const ec2 = new Ec2HttpServer(endpoint);
  const imds = new ImdsHttpServer(cloud.stateForImds());
  const ec2Endpoint = await ec2.start();
  try {
    await imds.start();
  } catch (err) {
    await ec2.close();
    throw err;
  }
  return {
    cloud,
    instance,
    subnetId: E2E_SUBNET_ID,
    ec2Endpoint,
    imdsEndpoint: imds.endpointFor(instance.instanceId),
    region: cloud.config.region,
    endpoint,
    async close() {
      await Promise.all([ec2.close(), imds.close()]);
    },
  };
}
