import type { Failure } from '../ipam/pool-blocker.js';
import { isEc2Error, limitHit } from '../provider/aws-errors.js';

/** Which blocker an EC2 failure means for the pool (the provider classified it; see aws-errors.ts). */
export function classifyFailure(err: unknown): Failure {
  if (!isEc2Error(err)) {
    return { kind: 'ec2-error', detail: err instanceof Error ? err.message : String(err) };
  }
  const detail = `${err.action}: ${err.awsCode}`;
  switch (err.kind) {
    case 'subnet-full':
      return { kind: 'subnet-full', subnetId: err.subnetId, detail };
    case 'limit':
      return limitHit(err) === 'address' ? { kind: 'address-limit', detail } : { kind: 'eni-limit', detail };
    case 'throttled':
      return { kind: 'throttled', detail };
    case 'transient':
    case 'not-yet-visible':
      return { kind: 'ec2-unavailable', detail };
    case 'permanent':
      return { kind: 'ec2-error', detail: err.message };
  }
}
