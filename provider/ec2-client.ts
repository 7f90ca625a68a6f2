import {
  AssignPrivateIpAddressesCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DetachNetworkInterfaceCommand,
  ModifyNetworkInterfaceAttributeCommand,
  UnassignPrivateIpAddressesCommand,
  type AssignPrivateIpAddressesCommandInput,
  type AssignPrivateIpAddressesCommandOutput,
  type AttachNetworkInterfaceCommandInput,
  type AttachNetworkInterfaceCommandOutput,
  type CreateNetworkInterfaceCommandInput,
  type CreateNetworkInterfaceCommandOutput,
  type DeleteNetworkInterfaceCommandInput,
  type DescribeInstancesCommandInput,
  type DescribeInstancesCommandOutput,
  type DescribeInstanceTypesCommandInput,
  type DescribeInstanceTypesCommandOutput,
  type DescribeNetworkInterfacesCommandInput,
  type DescribeNetworkInterfacesCommandOutput,
  type DescribeSubnetsCommandInput,
  type DescribeSubnetsCommandOutput,
  type DescribeVpcsCommandInput,
  type DescribeVpcsCommandOutput,
  type DetachNetworkInterfaceCommandInput,
  type EC2Client,
  type ModifyNetworkInterfaceAttributeCommandInput,
  type UnassignPrivateIpAddressesCommandInput,
} from '@aws-sdk/client-ec2';
import type { Clock, Timer } from '../time/clock.js';
import { isRetryable, toEc2Error } from './aws-errors.js';
import { sleepBackoff, type BackoffPolicy, type RandomSource } from './backoff.js';
import type { Ec2Limiter } from './limiter.js';
import type { Ec2Observer } from './observer.js';
import { ACCOUNT_BUCKETS, type Ec2Api } from './rate-limits.js';

export interface RetryPolicy extends BackoffPolicy {
  /** Tries of one logical call, the first included. */
  maxAttempts: number;
  /** A request with no answer after this long is aborted and counted as transient. */
  callTimeoutMs: number;
}

/**
 * Six tries with waits capped at 20 s ride out a throttled minute without holding a CNI ADD for
 * long; the 15 s call timeout is above EC2's slowest normal answers (a large DescribeInstances).
 */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 6,
  baseMs: 200,
  capMs: 20_000,
  callTimeoutMs: 15_000,
};

/**
 * After RequestLimitExceeded the account's bucket for the API is empty and every node that saw it
 * empty retries. Spreading the retries over the time the bucket takes to refill its burst (20 s for
 * ENI mutations, 5 s for Describe*) instead of over a fraction of a second lets the refill serve
 * them instead of throttling most of them again; later throttles double it, up to the cap.
 */
export function throttledBackoff(api: Ec2Api, retry: BackoffPolicy): BackoffPolicy {
  const bucket = ACCOUNT_BUCKETS[api];
  const refillMs = (1000 * bucket.size) / bucket.refillPerSecond;
  return { baseMs: Math.max(retry.baseMs, refillMs / 4), capMs: Math.max(retry.capMs, refillMs * 2) };
}

export interface CallOptions {
  /**
   * Codes that are an answer for this call rather than a delay: thrown at once instead of retried.
   * Not-yet-visible codes are retried by default (NotFound just after a create); a delete, a detach
   * or a probe of an ENI that may be gone lists NotFound here.
   */
  finalCodes?: readonly string[];
}

export interface Ec2ClientDeps {
  /** Built with maxAttempts 1: retries are ours, so they are not multiplied by the SDK's. */
  sdk: EC2Client;
  limiter: Ec2Limiter;
  clock: Clock;
  random: RandomSource;
  observer: Ec2Observer;
  retry: RetryPolicy;
}

/**
 * Exactly the EC2 commands eni-ipam sends (deploy/iam-policy.json lists the same set, and a test
 * checks it), each through one path that applies the limiter, the call timeout, classification,
 * retries with backoff and the observer.
 */
export class Ec2Client {
  constructor(private readonly deps: Ec2ClientDeps) {}

  describeInstances(input: DescribeInstancesCommandInput): Promise<DescribeInstancesCommandOutput> {
    return this.call('DescribeInstances', input, (o) =>
      this.deps.sdk.send(new DescribeInstancesCommand(input), o),
    );
  }

  describeInstanceTypes(
    input: DescribeInstanceTypesCommandInput,
  ): Promise<DescribeInstanceTypesCommandOutput> {
    return this.call('DescribeInstanceTypes', input, (o) =>
      this.deps.sdk.send(new DescribeInstanceTypesCommand(input), o),
    );
  }

  describeNetworkInterfaces(
    input: DescribeNetworkInterfacesCommandInput,
    options?: CallOptions,
  ): Promise<DescribeNetworkInterfacesCommandOutput> {
    return this.call(
      'DescribeNetworkInterfaces',
      input,
      (o) => this.deps.sdk.send(new DescribeNetworkInterfacesCommand(input), o),
      options,
    );
  }

  describeSubnets(input: DescribeSubnetsCommandInput): Promise<DescribeSubnetsCommandOutput> {
    return this.call('DescribeSubnets', input, (o) =>
      this.deps.sdk.send(new DescribeSubnetsCommand(input), o),
    );
  }

  describeVpcs(input: DescribeVpcsCommandInput): Promise<DescribeVpcsCommandOutput> {
    return this.call('DescribeVpcs', input, (o) => this.deps.sdk.send(new DescribeVpcsCommand(input), o));
  }

  createNetworkInterface(
    input: CreateNetworkInterfaceCommandInput,
  ): Promise<CreateNetworkInterfaceCommandOutput> {
    return this.call('CreateNetworkInterface', input, (o) =>
      this.deps.sdk.send(new CreateNetworkInterfaceCommand(input), o),
    );
  }

  attachNetworkInterface(
    input: AttachNetworkInterfaceCommandInput,
  ): Promise<AttachNetworkInterfaceCommandOutput> {
    return this.call('AttachNetworkInterface', input, (o) =>
      this.deps.sdk.send(new AttachNetworkInterfaceCommand(input), o),
    );
  }

  async modifyNetworkInterfaceAttribute(input: ModifyNetworkInterfaceAttributeCommandInput): Promise<void> {
    await this.call('ModifyNetworkInterfaceAttribute', input, (o) =>
      this.deps.sdk.send(new ModifyNetworkInterfaceAttributeCommand(input), o),
    );
  }

  async detachNetworkInterface(
    input: DetachNetworkInterfaceCommandInput,
    options?: CallOptions,
  ): Promise<void> {
    await this.call(
      'DetachNetworkInterface',
      input,
      (o) => this.deps.sdk.send(new DetachNetworkInterfaceCommand(input), o),
      options,
    );
  }

  async deleteNetworkInterface(
    input: DeleteNetworkInterfaceCommandInput,
    options?: CallOptions,
  ): Promise<void> {
    await this.call(
      'DeleteNetworkInterface',
      input,
      (o) => this.deps.sdk.send(new DeleteNetworkInterfaceCommand(input), o),
      options,
    );
  }

  assignPrivateIpAddresses(
    input: AssignPrivateIpAddressesCommandInput,
  ): Promise<AssignPrivateIpAddressesCommandOutput> {
    return this.call('AssignPrivateIpAddresses', input, (o) =>
      this.deps.sdk.send(new AssignPrivateIpAddressesCommand(input), o),
    );
  }

  async unassignPrivateIpAddresses(input: UnassignPrivateIpAddressesCommandInput): Promise<void> {
    await this.call('UnassignPrivateIpAddresses', input, (o) =>
      this.deps.sdk.send(new UnassignPrivateIpAddressesCommand(input), o),
    );
  }

  private async call<T>(
    api: Ec2Api,
    params: unknown,
    send: (options: { abortSignal: AbortSignal }) => Promise<T>,
    options: CallOptions = {},
  ): Promise<T> {
    const { clock, limiter, random, retry } = this.deps;
    for (let attempt = 0; ; attempt++) {
      try {
        return await limiter.schedule(api, () => this.attempt(api, attempt, send));
      } catch (raw) {
        const err = toEc2Error(raw, api, params);
        if (err.kind === 'throttled') limiter.throttled(api);
        const retryable = isRetryable(err.kind) && !(options.finalCodes ?? []).includes(err.awsCode);
        if (!retryable || attempt + 1 >= retry.maxAttempts) throw err;
        await sleepBackoff(
          clock,
          attempt,
          err.kind === 'throttled' ? throttledBackoff(api, retry) : retry,
          random,
        );
      }
    }
  }

  /** One request on the wire, with its timeout and its observation. */
  private async attempt<T>(
    api: Ec2Api,
    attempt: number,
    send: (options: { abortSignal: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    const { clock, observer, retry } = this.deps;
    const controller = new AbortController();
    // The timeout rejects on its own rather than trusting the request handler to honour the abort:
    // a transport that ignores it (the simulator's, a mock) must not hang the agent.
    let timer: Timer | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = clock.setTimer(retry.callTimeoutMs, () => {
        const timeout = new Error(`no answer within ${retry.callTimeoutMs} ms`);
        timeout.name = 'TimeoutError';
        controller.abort(timeout);
        reject(timeout);
      });
    });
    const started = clock.now();
    try {
      const out = await Promise.race([send({ abortSignal: controller.signal }), timedOut]);
      observer.onCall({
        api,
        durationMs: clock.now() - started,
        errorCode: undefined,
        errorClass: undefined,
        throttled: false,
        attempt,
      });
      return out;
    } catch (raw) {
      // The SDK may reject with its own abort error; ours carries the reason.
      const cause: unknown = controller.signal.aborted ? controller.signal.reason : raw;
      const err = toEc2Error(cause, api, undefined);
      observer.onCall({
        api,
        durationMs: clock.now() - started,
        errorCode: err.awsCode,
        errorClass: err.kind,
        throttled: err.kind === 'throttled',
        attempt,
      });
      throw cause;
    } finally {
      timer?.cancel();
    }
  }
}
