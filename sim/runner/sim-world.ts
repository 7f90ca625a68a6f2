import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { systemClock, type Clock } from '../../time/clock.js';
import { ManualClock, settle } from '../../time/manual-clock.js';
import { withoutSdkLogging } from '../../provider/aws-ec2-network.js';
import { SimulatedCloud } from '../cloud.js';
import { Ec2HttpServer } from '../http-server.js';
import type { Scenario } from './scenario.js';

/** Any non-empty credentials: the simulator does not check signatures, the SDK insists on signing. */
const SIMULATED_CREDENTIALS = { accessKeyId: 'AKIDSIMULATOR', secretAccessKey: 'simulated-secret-key' };

/**
 * Where a run's time comes from and how it passes. Simulated: one ManualClock for the cloud, every
 * agent and the runtime; time jumps from timer to timer. Real time (`--realtime`): the system
 * clock, and the EC2 endpoint served over HTTP on loopback.
 */
export interface SimWorld {
  readonly clock: Clock;
  readonly cloud: SimulatedCloud;
  /** The SDK client every simulated node's provider sends through. */
  readonly sdk: EC2Client;
  readonly realtime: boolean;
  /** Lets `ms` of the run's time pass, everything due on the way happening. */
  pass(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function createWorld(scenario: Scenario, realtime: boolean): Promise<SimWorld> {
  const manual = realtime ? undefined : new ManualClock();
  const clock: Clock = manual ?? systemClock;
  const { ec2 } = scenario;
  const cloud = new SimulatedCloud(
    {
      seed: scenario.seed,
      vpcCidr: ec2.vpcCidr,
      subnets: ec2.subnets.map((s) => ({
        id: s.id,
        az: s.az,
        cidr: s.cidr,
        tags: s.tags,
        usedAddresses: s.usedAddresses,
      })),
      latencyMs: ec2.latencyMs,
      visibilityDelayMs: ec2.visibilityDelayMs,
      throttling: ec2.throttling,
      faults: ec2.faults,
    },
    clock,
  );
  const base = { region: cloud.config.region, credentials: SIMULATED_CREDENTIALS, maxAttempts: 1 };
  if (!manual) {
    const server = new Ec2HttpServer(cloud.endpoint);
    const url = await server.start();
    return {
      clock,
      cloud,
      sdk: new EC2Client({ ...base, endpoint: url }),
      realtime,
      pass: (ms) => systemClock.sleep(ms),
      close: () => server.close(),
    };
  }
  const sdk = new EC2Client({ ...base, requestHandler: cloud.requestHandler() });
  withoutSdkLogging(sdk);
  await warmUp(sdk, manual);
  return {
    clock,
    cloud,
    sdk,
    realtime,
    pass: (ms) => manual.advance(ms),
    close: () => Promise.resolve(),
  };
}

/**
 * The SDK resolves parts of its configuration asynchronously (and reads shared config files) on a
 * client's first request. Done inside a run, that real I/O would interleave with simulated time
 * differently from run to run; one request before the run keeps runs of a seed identical. The
 * runner subtracts its EC2 counts from the report.
 */
async function warmUp(sdk: EC2Client, clock: ManualClock): Promise<void> {
  let done = false;
  const request = sdk.send(new DescribeVpcsCommand({})).finally(() => {
    done = true;
  });
  while (!done) {
    if (clock.nextTimerAt() !== undefined) await clock.advanceTo(clock.nextTimerAt() ?? clock.now());
    // Not a timer: an unref'd one lets node exit here once nothing else is pending.
    else await settle();
  }
  await request;
}
