/**
 * provider/'s members of the error family (ipam/errors.ts): what leaves provider/ when EC2 or the
 * instance metadata service fails. The AWS code strings themselves stay in provider/aws-errors.ts.
 */
import { EniIpamError } from '../ipam/errors.js';
import type { Ec2ErrorClass } from './ec2-network.js';

/** One stable code per class of EC2 failure: what the agent can do about it, not which API said it. */
const EC2_ERROR_CODES = {
  throttled: 'ERR_EC2_THROTTLED',
  transient: 'ERR_EC2_TRANSIENT',
  'not-yet-visible': 'ERR_EC2_NOT_YET_VISIBLE',
  'subnet-full': 'ERR_EC2_SUBNET_FULL',
  limit: 'ERR_EC2_LIMIT',
  permanent: 'ERR_EC2_PERMANENT',
} as const satisfies Record<Ec2ErrorClass, `ERR_${string}`>;

export type Ec2ErrorCode = (typeof EC2_ERROR_CODES)[Ec2ErrorClass];

export interface Ec2ErrorDetails {
  kind: Ec2ErrorClass;
  /** EC2's own error code ("RequestLimitExceeded"), or a Node errno for network failures. */
  awsCode: string;
  /** The EC2 action, e.g. "AssignPrivateIpAddresses". */
  action: string;
  /** The request parameters, so a permanent error can be understood from the log line alone. */
  params: unknown;
  subnetId?: string;
  httpStatus?: number;
  cause?: unknown;
}

/** A classified EC2 failure; the only error type that leaves provider/ for an EC2 call. */
export class Ec2Error extends EniIpamError {
  override readonly name = 'Ec2Error';
  readonly code: Ec2ErrorCode;
  readonly kind: Ec2ErrorClass;
  readonly awsCode: string;
  readonly action: string;
  readonly params: unknown;
  readonly subnetId: string | undefined;
  readonly httpStatus: number | undefined;

  constructor(message: string, details: Ec2ErrorDetails) {
    super(
      `${details.action}: ${details.awsCode}: ${message}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.kind = details.kind;
    this.code = EC2_ERROR_CODES[details.kind];
    this.awsCode = details.awsCode;
    this.action = details.action;
    this.params = details.params;
    this.subnetId = details.subnetId;
    this.httpStatus = details.httpStatus;
  }

  /** The same error, naming the subnet (for subnet-full, so the planner knows which one to skip). */
  withSubnet(subnetId: string): Ec2Error {
    return new Ec2Error(this.message.slice(`${this.action}: ${this.awsCode}: `.length), {
      kind: this.kind,
      awsCode: this.awsCode,
      action: this.action,
      params: this.params,
      subnetId,
      ...(this.httpStatus === undefined ? {} : { httpStatus: this.httpStatus }),
      cause: this.cause,
    });
  }
}

/** The instance metadata service refused or failed a request (status undefined: no answer). */
export class ImdsError extends EniIpamError {
  override readonly name = 'ImdsError';
  readonly code = 'ERR_IMDS' as const;
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

/** PutMetricData failed; `retryable` when the same data may succeed later (throttling, 5xx, network). */
export class CloudWatchError extends EniIpamError {
  override readonly name = 'CloudWatchError';
  readonly code = 'ERR_CLOUDWATCH' as const;
  constructor(
    /** CloudWatch's own error name ("Throttling", "InvalidParameterValue"), or "Unknown". */
    readonly awsCode: string,
    readonly retryable: boolean,
    cause: unknown,
  ) {
    super(`PutMetricData: ${awsCode}`, { cause });
  }
}
