import type { SimConfigInput } from '../../sim/config.js';
import { SimulatedCloud } from '../../sim/cloud.js';
import { ManualClock } from '../../time/manual-clock.js';
import { drive, inProcessClient, type InProcessWorld } from './helpers.js';

export const SUBNET_A = {
  id: 'subnet-a',
  az: 'us-east-1a',
  cidr: '10.0.0.0/24',
  tags: { 'kubernetes.io/role/cni': '1' },
};

/** A simulated cloud on a ManualClock with one /24 subnet, no latency and no throttling unless asked. */
export function inProcessWorld(config: SimConfigInput = {}): InProcessWorld {
  const clock = new ManualClock();
  const cloud = new SimulatedCloud(
    { subnets: [SUBNET_A], latencyMs: { default: 0 }, throttling: 'none', ...config },
    clock,
  );
  const ec2 = inProcessClient(cloud);
  return { clock, cloud, ec2, run: (promise) => drive(clock, promise) };
}
