import type { Ec2ErrorClass } from './ec2-network.js';
import { Ec2Error } from './errors.js';

/**
 * The one file that knows AWS's error code strings. Everything else asks for a class.
 * Codes are grouped by what the agent can do about them, not by which API returned them.
 */

/** EC2's per-account token bucket ran dry; the SDK's own throttling names are here too. */
const THROTTLED = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
]);

/** EC2 or the network hiccupped; the same request may succeed as is. */
const TRANSIENT = new Set([
  'InternalError',
  'InternalFailure',
  'Unavailable',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'AbortError',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);

/**
 * EC2 is eventually consistent: an ENI created a moment ago may be unknown to the next call, and a
 * detach may not yet be visible to DeleteNetworkInterface (InUse). Callers for which "not found"
 * is final (delete, detach) handle these codes themselves.
 */
const NOT_YET_VISIBLE = new Set([
  'InvalidNetworkInterfaceID.NotFound',
  'InvalidAttachmentID.NotFound',
  'InvalidNetworkInterface.InUse',
]);

/** The subnet has no room: the planner should pick another subnet for a while. */
const SUBNET_FULL = new Set(['InsufficientFreeAddressesInSubnet', 'InsufficientCidrBlocks']);

/** An instance or account limit: the planner should stop asking for more of it. */
const LIMIT = new Set([
  'AttachmentLimitExceeded',
  'PrivateIpAddressLimitExceeded',
  'NetworkInterfaceLimitExceeded',
]);

/** Codes meaning "this object does not exist", for callers where that is success (delete) or a fact. */
export const NETWORK_INTERFACE_NOT_FOUND = 'InvalidNetworkInterfaceID.NotFound';
export const ATTACHMENT_NOT_FOUND = 'InvalidAttachmentID.NotFound';
/** EC2's answer to an attach at a device index already in use (the message names the index). */
export const INVALID_PARAMETER_VALUE = 'InvalidParameterValue';

export function classifyCode(code: string, httpStatus?: number): Ec2ErrorClass {
  if (THROTTLED.has(code)) return 'throttled';
  if (NOT_YET_VISIBLE.has(code)) return 'not-yet-visible';
  if (SUBNET_FULL.has(code)) return 'subnet-full';
  if (LIMIT.has(code)) return 'limit';
  if (TRANSIENT.has(code)) return 'transient';
  // An unknown code with a 5xx status is the service's problem, not the request's.
  if (httpStatus !== undefined && httpStatus >= 500) return 'transient';
  return 'permanent';
}

/** Whether the provider retries this class itself before surfacing it. */
export function isRetryable(kind: Ec2ErrorClass): boolean {
  switch (kind) {
    case 'throttled':
    case 'transient':
    case 'not-yet-visible':
      return true;
    case 'subnet-full':
    case 'limit':
    case 'permanent':
      return false;
  }
}

/** Whether an AWS error code says "slow down" (EC2's, CloudWatch's and the SDK's own spellings). */
export function isThrottlingCode(code: string): boolean {
  return THROTTLED.has(code);
}

export function isEc2Error(err: unknown, awsCode?: string): err is Ec2Error {
  return err instanceof Ec2Error && (awsCode === undefined || err.awsCode === awsCode);
}

/** Which limit a `limit` failure hit: the instance's ENI count, or one ENI's addresses. */
export function limitHit(err: Ec2Error): 'eni' | 'address' {
  return err.awsCode === 'PrivateIpAddressLimitExceeded' ? 'address' : 'eni';
}

/** EC2 refused the call for want of permission (an IAM policy without the action). */
export function isPermissionDenied(err: Ec2Error): boolean {
  return /^(Client\.)?(UnauthorizedOperation|AccessDenied)/.test(err.awsCode);
}

/**
 * Turns whatever the SDK threw (a ServiceException with `name` = the EC2 code and `$metadata`, a
 * Node network error with `code`, an AbortError from our own timeout) into an Ec2Error.
 */
export function toEc2Error(err: unknown, action: string, params: unknown): Ec2Error {
  if (err instanceof Ec2Error) return err;
  const record = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const status =
    typeof record.$metadata?.httpStatusCode === 'number' ? record.$metadata.httpStatusCode : undefined;
  const code = pickCode(record);
  const message = typeof record.message === 'string' ? record.message : String(err);
  return new Ec2Error(message, {
    kind: classifyCode(code, status),
    awsCode: code,
    action,
    params,
    ...(status === undefined ? {} : { httpStatus: status }),
    cause: err,
  });
}

function pickCode(record: { name?: unknown; code?: unknown; Code?: unknown }): string {
  // SDK v3 service errors carry the EC2 code as `name` (and sometimes `Code`); Node socket errors
  // carry an errno string as `code` and a generic `name` ("Error").
  if (typeof record.Code === 'string' && record.Code !== '') return record.Code;
  if (typeof record.code === 'string' && record.code !== '') return record.code;
  if (typeof record.name === 'string' && record.name !== '' && record.name !== 'Error') return record.name;
  return 'Unknown';
}
