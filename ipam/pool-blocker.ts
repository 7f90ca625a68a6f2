/**
 * Why the pool could not grow the last time it tried, as the domain sees it: a CNI ADD that times
 * out says this to the user (kubelet events show it), instead of the bare "failed to assign an IP
 * address". agent/pool-blocker.ts turns the provider's errors into these.
 */
export type Blocker = { at: number; detail: string } & (
  | { kind: 'subnet-full'; subnetId: string | undefined }
  | { kind: 'eni-limit' }
  | { kind: 'address-limit' }
  | { kind: 'throttled' }
  | { kind: 'ec2-unavailable' }
  | { kind: 'ec2-error' }
  | { kind: 'no-subnet' }
);

/** Every kind of Blocker, for input that names one (eni-ipam plan). */
export const BLOCKER_KINDS = [
  'subnet-full',
  'eni-limit',
  'address-limit',
  'throttled',
  'ec2-unavailable',
  'ec2-error',
  'no-subnet',
] as const satisfies readonly Blocker['kind'][];

export type Failure = Blocker extends infer B ? (B extends Blocker ? Omit<B, 'at'> : never) : never;

export function describeBlocker(blocker: Blocker): string {
  switch (blocker.kind) {
    case 'subnet-full':
      return `subnet ${blocker.subnetId ?? '(unknown)'} is full (${blocker.detail})`;
    case 'eni-limit':
      return `the instance is at its ENI limit (${blocker.detail})`;
    case 'address-limit':
      return `the ENI holds as many addresses as its instance type allows (${blocker.detail})`;
    case 'throttled':
      return `EC2 is throttling this account (${blocker.detail})`;
    case 'ec2-unavailable':
      return `EC2 is not answering (${blocker.detail})`;
    case 'ec2-error':
      return `EC2 refused a request: ${blocker.detail}`;
    case 'no-subnet':
      return `no subnet can take a new ENI: ${blocker.detail}`;
  }
}
