import type { Ec2ErrorClass } from './ec2-network.js';

/**
 * The one file that knows AWS's error code strings. Everything else asks for a class.
 * Codes are grouped by what the agent can do about them, not by which API returned them.
 */

/** EC2's per-account token bucket ran dry; the SDK's own throttling names are here too. */
const THROTTLED = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException']);

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
const LIMIT = new Set(['AttachmentLimitExceeded', 'PrivateIpAddressLimitExceeded', 'NetworkInterfaceLimitExceeded']);

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

export interface Ec2ErrorDetails {
  kind: Ec2ErrorClass;
  code: string;
  /** The EC2 action, e.g. "AssignPrivateIpAddresses". */
  action: string;
  /** The request parameters, so a permanent error can be understood from the log line alone. */
  params: unknown;
  subnetId?: string;
  httpStatus?: number;
  cause?: unknown;
}

/** A classified EC2 failure; the only error type that leaves provider/ for an EC2 call. */
export class Ec2Error extends Error {
  override readonly name = 'Ec2Error';
  readonly kind: Ec2ErrorClass;
  readonly code: string;
  readonly action: string;
  readonly params: unknown;
  readonly subnetId: string | undefined;
  readonly httpStatus: number | undefined;

  constructor(message: string, details: Ec2ErrorDetails) {
    super(`${details.action}: ${details.code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = details.kind;
    this.code = details.code;
    this.action = details.action;
    this.params = details.params;
    this.subnetId = details.subnetId;
    this.httpStatus = details.httpStatus;
  }

  /** The same error, naming the subnet (for subnet-full, so the planner knows which one to skip). */
  withSubnet(subnetId: string): Ec2Error {
    return new Ec2Error(this.message.slice(`${this.action}: ${this.code}: `.length), {
      kind: this.kind,
      code: this.code,
      action: this.action,
      params: this.params,
      subnetId,
      ...(this.httpStatus === undefined ? {} : { httpStatus: this.httpStatus }),
      cause: this.cause,
    });
  }
}

export function isEc2Error(err: unknown, code?: string): err is Ec2Error {
  return err instanceof Ec2Error && (code === undefined || err.code === code);
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
  const status = typeof record.$metadata?.httpStatusCode === 'number' ? record.$metadata.httpStatusCode : undefined;
  const code = pickCode(record);
  const message = typeof record.message === 'string' ? record.message : String(err);
  return new Ec2Error(message, {
    kind: classifyCode(code, status),
    code,
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
